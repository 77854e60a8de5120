from django.apps import AppConfig


class ReferralConfig(AppConfig):
    name = "referral"
    verbose_name = "Patient matching"

    def ready(self):
        from referral import origins, response_cache, search_index

        search_index.connect_signals()  # keeps the search index in step with every model save and delete
        origins.connect_signals()  # a changed ZIP is not served from the cache of search origins
        response_cache.connect_signals()  # after the search index: a changed specialist's answers are forgotten
