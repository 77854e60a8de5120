"""The referring physicians' models move here from `referral`, keeping their tables (no data moves).

State only: the tables were created by referral.0001_shortlists and keep their names (db_table), so every
shortlist, item, share link, API token and account request stays where it is. The content types are
relabelled, so permissions granted on them (the Curators' account-request permissions) and admin log
entries follow the models.
"""

import directory.models
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ["shortlist", "shortlistitem", "sharelink", "apitoken", "accountrequest"]


def relabel_content_types(apps, schema_editor, old="referral", new="shortlists"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def restore_content_types(apps, schema_editor):
    relabel_content_types(apps, schema_editor, old="shortlists", new="referral")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("referral", "0004_search_entry_page_text"),
        ("directory", "0003_curators_group"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApiToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key_hash', models.CharField(max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='api_token', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'referral_apitoken',
                        'verbose_name': 'API token',
                    },
                ),
                migrations.CreateModel(
                    name='Shortlist',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('origin_zip', models.CharField(blank=True, max_length=5, verbose_name='origin ZIP')),
                        ('radius_miles', models.PositiveIntegerField(blank=True, null=True, verbose_name='radius (miles)')),
                        ('situation', models.JSONField(blank=True, default=dict, help_text='referral.ranking.Situation.to_dict()')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='shortlists', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'referral_shortlist',
                        'ordering': ['-updated_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ShareLink',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('token_hash', models.CharField(max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('expires_at', models.DateTimeField()),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('shortlist', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='share_links', to='shortlists.shortlist')),
                    ],
                    options={
                        'db_table': 'referral_sharelink',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='AccountRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200)),
                        ('email', models.EmailField(max_length=254)),
                        ('npi', models.CharField(max_length=10, validators=[directory.models.validate_npi], verbose_name='NPI')),
                        ('practice', models.CharField(max_length=200, verbose_name='practice or organisation')),
                        ('status', models.CharField(choices=[('pending', 'Awaiting review'), ('approved', 'Approved'), ('declined', 'Declined')], db_index=True, default='pending', max_length=10)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                        ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(blank=True, help_text='The account created on approval.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='account_requests', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'referral_accountrequest',
                        'ordering': ['-created_at', '-id'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('email',), name='one_pending_account_request_per_email')],
                    },
                ),
                migrations.CreateModel(
                    name='ShortlistItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('position', models.PositiveIntegerField(default=0)),
                        ('note', models.TextField(blank=True, max_length=2000)),
                        ('distance_miles', models.FloatField(blank=True, null=True)),
                        ('reasons', models.JSONField(blank=True, default=list)),
                        ('facts', models.JSONField(blank=True, default=list)),
                        ('added_at', models.DateTimeField(auto_now_add=True)),
                        ('practice', models.ForeignKey(blank=True, help_text='The nearest practice', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='directory.practice')),
                        ('shortlist', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='shortlists.shortlist')),
                        ('specialist', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='directory.specialist')),
                    ],
                    options={
                        'db_table': 'referral_shortlistitem',
                        'ordering': ['position', 'id'],
                        'constraints': [models.UniqueConstraint(fields=('shortlist', 'specialist'), name='specialist_once_per_shortlist')],
                    },
                ),
    
            ],
        ),
        migrations.RunPython(relabel_content_types, restore_content_types),
    ]
