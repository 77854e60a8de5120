from django.db import migrations, models


class Migration(migrations.Migration):
    """No ZIP or practice is at 0,0 or outside the US states and territories (directory.geo.US_AREAS)."""

    dependencies = [("directory", "0007_locate_zipcodes")]

    operations = [
        migrations.AddConstraint(
            model_name='practice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('latitude__isnull', True), ('longitude__isnull', True)), models.Q(('latitude__gte', 24.0), ('latitude__lte', 49.5), ('longitude__gte', -125.0), ('longitude__lte', -66.5)), models.Q(('latitude__gte', 51.0), ('latitude__lte', 71.8), ('longitude__gte', -180.0), ('longitude__lte', -129.5)), models.Q(('latitude__gte', 51.0), ('latitude__lte', 53.5), ('longitude__gte', 172.0), ('longitude__lte', 180.0)), models.Q(('latitude__gte', 18.5), ('latitude__lte', 28.5), ('longitude__gte', -178.5), ('longitude__lte', -154.5)), models.Q(('latitude__gte', 17.5), ('latitude__lte', 18.7), ('longitude__gte', -68.0), ('longitude__lte', -64.4)), models.Q(('latitude__gte', 13.0), ('latitude__lte', 20.7), ('longitude__gte', 144.5), ('longitude__lte', 146.2)), models.Q(('latitude__gte', -14.7), ('latitude__lte', -11.0), ('longitude__gte', -171.2), ('longitude__lte', -168.0)), _connector='OR'), name='practice_located_in_us_area'),
        ),
        migrations.AddConstraint(
            model_name='zipcode',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('latitude__isnull', True), ('longitude__isnull', True)), models.Q(('latitude__gte', 24.0), ('latitude__lte', 49.5), ('longitude__gte', -125.0), ('longitude__lte', -66.5)), models.Q(('latitude__gte', 51.0), ('latitude__lte', 71.8), ('longitude__gte', -180.0), ('longitude__lte', -129.5)), models.Q(('latitude__gte', 51.0), ('latitude__lte', 53.5), ('longitude__gte', 172.0), ('longitude__lte', 180.0)), models.Q(('latitude__gte', 18.5), ('latitude__lte', 28.5), ('longitude__gte', -178.5), ('longitude__lte', -154.5)), models.Q(('latitude__gte', 17.5), ('latitude__lte', 18.7), ('longitude__gte', -68.0), ('longitude__lte', -64.4)), models.Q(('latitude__gte', 13.0), ('latitude__lte', 20.7), ('longitude__gte', 144.5), ('longitude__lte', 146.2)), models.Q(('latitude__gte', -14.7), ('latitude__lte', -11.0), ('longitude__gte', -171.2), ('longitude__lte', -168.0)), _connector='OR'), name='zip_located_in_us_area'),
        ),
    ]
