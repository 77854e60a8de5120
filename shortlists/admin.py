"""Admin for account requests. Shortlists are deliberately not registered: only their owners may read them."""

from django.contrib import admin, messages
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shortlists.models import AccountRequest


def send_set_password_email(request, account_request, user):
    """Email the approved physician a one-time link to choose a password (the configured email backend)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})
    context = {
        "account_request": account_request,
        "user": user,
        "set_password_url": request.build_absolute_uri(path),
        "login_url": request.build_absolute_uri(reverse("login")),
    }
    body = render_to_string("shortlists/account_approved_email.txt", context)
    send_mail("Your SIJ Finder physician account", body, None, [user.email])


@admin.register(AccountRequest)
class AccountRequestAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "npi", "practice", "status", "created_at", "reviewed_by"]
    list_filter = ["status"]
    search_fields = ["name", "email", "npi", "practice"]
    readonly_fields = ["status", "created_at", "reviewed_by", "reviewed_at", "user"]
    actions = ["approve", "decline"]

    def has_add_permission(self, request):
        return False  # requests come from the public form

    @admin.action(description="Approve: create the account and email a set-password link", permissions=["change"])
    def approve(self, request, queryset):
        approved = 0
        for account_request in queryset.filter(status=AccountRequest.Status.PENDING):
            user = account_request.approve(reviewer=request.user)
            send_set_password_email(request, account_request, user)
            approved += 1
        skipped = queryset.count() - approved
        self.message_user(request, f"Approved {approved} request(s); each was emailed a set-password link.")
        if skipped:
            self.message_user(request, f"Skipped {skipped} already reviewed request(s).", messages.WARNING)

    @admin.action(description="Decline the selected requests", permissions=["change"])
    def decline(self, request, queryset):
        pending = list(queryset.filter(status=AccountRequest.Status.PENDING))
        for account_request in pending:
            account_request.decline(reviewer=request.user)
        self.message_user(request, f"Declined {len(pending)} request(s).")
