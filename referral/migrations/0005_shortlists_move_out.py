"""Shortlists, share links, API tokens and account requests now belong to the `shortlists` app.

State only: their tables stay as they are (shortlists.0001_initial adopts them under the same names).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("referral", "0004_search_entry_page_text"),
        ("shortlists", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ShortlistItem"),
                migrations.DeleteModel(name="ShareLink"),
                migrations.DeleteModel(name="ApiToken"),
                migrations.DeleteModel(name="AccountRequest"),
                migrations.DeleteModel(name="Shortlist"),
            ],
        ),
    ]
