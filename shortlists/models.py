"""Referring physicians' shortlists, their share links and API tokens, and account requests.

The tables keep the names they had when these models lived in `referral` (db_table), so moving the app
moved no data.
"""

import hashlib
import math
import secrets

from django.conf import settings
from django.db import models, transaction
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

    def with_item_count(self):
        return self.annotate(item_count=models.Count("items"))


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
        db_table = "referral_shortlist"
        ordering = ["-updated_at", "-id"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("shortlists:shortlist-detail", args=[self.pk])

    def next_position(self) -> int:
        last = self.items.aggregate(last=models.Max("position"))["last"]
        return 0 if last is None else last + 1

    def explain(self, specialist):
        """Return the Match of `specialist` for this list's origin and situation (None without an origin)."""
        from directory.models import ZipCode
        from referral.matching import match_specialist
        from referral.ranking import Situation

        origin = ZipCode.objects.filter(code=self.origin_zip).first() if self.origin_zip else None
        if origin is None:
            return None
        return match_specialist(specialist=specialist, origin=origin, situation=Situation.from_dict(self.situation))

    def add(self, specialist, *, note="") -> tuple["ShortlistItem", bool]:
        """Add `specialist` at the end (once only), capturing distance, reasons and facts as of now."""
        existing = self.items.filter(specialist=specialist).first()
        if existing:
            return existing, False
        item = ShortlistItem(shortlist=self, specialist=specialist, position=self.next_position(), note=note)
        item.capture(self.explain(specialist))
        item.save()
        self.save(update_fields=["updated_at"])
        return item, True

    def recapture(self):
        """Recompute every item's distance, reasons and facts (after the origin or situation changed)."""
        for item in self.items.select_related("specialist"):
            item.capture(self.explain(item.specialist))
            item.save(update_fields=["practice", "distance_miles", "reasons", "facts"])

    def move(self, item, offset: int) -> None:
        """Move `item` up (-1) or down (+1) one place; positions are renumbered 0..n-1 on the way."""
        items = list(self.items.all())
        index = next(i for i, candidate in enumerate(items) if candidate.pk == item.pk)
        target = index + offset
        if 0 <= target < len(items):
            items[index], items[target] = items[target], items[index]
        for position, candidate in enumerate(items):
            if candidate.position != position:
                candidate.position = position
                candidate.save(update_fields=["position"])
        self.save(update_fields=["updated_at"])


class ShortlistItemQuerySet(models.QuerySet):
    def published(self):
        """Items whose specialist is still listed; shared pages and exports never show withdrawn profiles."""
        return self.filter(specialist__is_published=True)

    def for_display(self):
        return self.select_related("specialist", "practice").prefetch_related(
            "specialist__practices", "specialist__volumes", "specialist__trainings", "practice__insurance"
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
        db_table = "referral_shortlistitem"
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shortlist", "specialist"], name="specialist_once_per_shortlist"),
        ]

    def __str__(self):
        return f"{self.specialist} on {self.shortlist}"

    def capture(self, match) -> None:
        """Keep what the search said about this specialist when it was added (`match` may be None)."""
        # Without an origin there is no "nearest" practice: fall back to the primary one.
        primary = None if match else self.specialist.affiliation_set.primary_first().select_related("practice").first()
        self.practice = match.practice if match else (primary.practice if primary else None)
        self.distance_miles = round(match.distance_miles, 1) if match and math.isfinite(match.distance_miles) else None
        self.reasons = list(match.reasons) if match else []
        self.facts = list(match.facts) if match else []


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
        db_table = "referral_sharelink"
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
        db_table = "referral_apitoken"
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
        db_table = "referral_accountrequest"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=Q(status="pending"), name="one_pending_account_request_per_email"
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}> ({self.get_status_display()})"

    def approve(self, *, reviewer):
        """Create (or reuse) the user for this email, put it in the referring physicians' group; return it."""
        from django.contrib.auth.models import Group, User

        with transaction.atomic():
            user = User.objects.filter(email__iexact=self.email).order_by("pk").first()
            if user is None:
                first, _, last = self.name.strip().partition(" ")
                user = User(username=self.email.lower(), email=self.email.lower(), first_name=first, last_name=last)
                user.set_unusable_password()  # the physician sets one through the emailed link
                user.save()
            user.groups.add(Group.objects.get_or_create(name=REFERRING_PHYSICIANS_GROUP)[0])
            self.status, self.user = self.Status.APPROVED, user
            self.reviewed_by, self.reviewed_at = reviewer, timezone.now()
            self.save()
        return user

    def decline(self, *, reviewer):
        self.status, self.reviewed_by, self.reviewed_at = self.Status.DECLINED, reviewer, timezone.now()
        self.save()
