"""Referring physicians' shortlists, their share links and API tokens, and account requests."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from directory.models import Practice, Specialist, validate_npi

REFERRING_PHYSICIANS_GROUP = "Referring physicians"


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a share link or API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- Shortlists ---------------------------------------------------------------------------------------


class ShortlistQuerySet(models.QuerySet):
    def owned_by(self, user):
        """Only the owner ever sees a shortlist: every page, export and API route starts here."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


class Shortlist(models.Model):
    """A referring physician's list of specialists for one patient situation (nothing that identifies the patient)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shortlists")
    title = models.CharField(max_length=200)
    origin_zip = models.CharField("origin ZIP", max_length=5, blank=True)
    radius_miles = models.PositiveIntegerField("radius (miles)", null=True, blank=True)
    situation = models.JSONField(default=dict, blank=True, help_text="referral.ranking.Situation.to_dict()")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ShortlistQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("referral:shortlist-detail", args=[self.pk])

    def next_position(self) -> int:
        last = self.items.aggregate(last=models.Max("position"))["last"]
        return 0 if last is None else last + 1


class ShortlistItemQuerySet(models.QuerySet):
    def published(self):
        """Items whose specialist is still listed; shared pages and exports never show withdrawn profiles."""
        return self.filter(specialist__is_published=True)

    def for_display(self):
        return self.select_related("specialist", "practice").prefetch_related(
            "specialist__practices", "specialist__volumes", "specialist__trainings"
        )


class ShortlistItem(models.Model):
    shortlist = models.ForeignKey(Shortlist, on_delete=models.CASCADE, related_name="items")
    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, max_length=2000)
    # Captured when the item was added, relative to the shortlist's origin ZIP and situation.
    practice = models.ForeignKey(
        Practice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The nearest practice"
    )
    distance_miles = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    facts = models.JSONField(default=list, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    objects = ShortlistItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shortlist", "specialist"], name="specialist_once_per_shortlist"),
        ]

    def __str__(self):
        return f"{self.specialist} on {self.shortlist}"


class ShareLinkQuerySet(models.QuerySet):
    def active(self, now=None):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class ShareLink(models.Model):
    """A read-only link to a shortlist.

    The token is 256 random bits shown once; only its SHA-256 is stored, so a database leak does not leak
    working links, and revoking is one timestamp. (A django.core.signing token would need a revocation
    table anyway, so a random token with a row per link is the simpler of the two.)
    """

    shortlist = models.ForeignKey(Shortlist, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Share link for {self.shortlist} (expires {self.expires_at:%Y-%m-%d})"

    @classmethod
    def create_for(cls, shortlist, *, days=None) -> tuple["ShareLink", str]:
        """Create a link and return it with its token (the only time the token is known)."""
        token = secrets.token_urlsafe(32)
        days = settings.SIJ_SHARE_LINK_DAYS if days is None else days
        link = cls.objects.create(
            shortlist=shortlist,
            token_hash=hash_token(token),
            expires_at=timezone.now() + timezone.timedelta(days=days),
        )
        return link, token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class ApiToken(models.Model):
    """A physician's token for `Authorization: Token <key>`; stored hashed, shown once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"API token of {self.user}"

    @classmethod
    def issue(cls, user) -> str:
        """Replace the user's token with a new one and return its key."""
        key = secrets.token_urlsafe(32)
        cls.objects.update_or_create(user=user, defaults={"key_hash": hash_token(key), "last_used_at": None})
        return key


# --- Account requests ---------------------------------------------------------------------------------


class AccountRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    name = models.CharField(max_length=200)
    email = models.EmailField()
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    practice = models.CharField("practice or organisation", max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="account_requests",
        help_text="The account created on approval.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=Q(status="pending"), name="one_pending_account_request_per_email"
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}> ({self.get_status_display()})"
