from django.apps import AppConfig


class ReferralConfig(AppConfig):
    name = "referral"
    verbose_name = "Referrals and shortlists"

    def ready(self):
        from referral.search_index import connect_signals

        connect_signals()  # keeps the search index in step with every model save and delete
