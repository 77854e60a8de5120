"""Forms for referring physicians: shortlists, adding from search, the shortlist API body, account requests."""

from django import forms
from django.http import QueryDict

from directory.models import Specialist, ZipCode
from referral.forms import SearchForm, SituationForm
from shortlists.models import AccountRequest, Shortlist

NEW_LIST = "new"


class ShortlistForm(forms.ModelForm):
    class Meta:
        model = Shortlist
        fields = ["title"]
        help_texts = {"title": "For your eyes and the patient's: no names or dates of birth."}


class ItemNoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


def search_context(query: str):
    """Return (origin ZipCode, radius, Situation) of a search query string, or raise ValidationError."""
    search = SearchForm(QueryDict(query or ""))
    if not search.is_valid():
        raise forms.ValidationError("The search behind this result is no longer valid; please search again.")
    return search.origin, round(search.radius_miles), search.situation


class AddToShortlistForm(forms.Form):
    """One click on a search result: the specialist, which list, and the search it came from."""

    specialist = forms.ModelChoiceField(queryset=Specialist.objects.published(), widget=forms.HiddenInput)
    shortlist = forms.ChoiceField(label="Add to")
    title = forms.CharField(label="New list title", max_length=200, required=False)
    query = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_lists = Shortlist.objects.owned_by(user)
        self.fields["shortlist"].choices = [(NEW_LIST, "New list")] + [(str(s.pk), s.title) for s in self.user_lists]

    def clean_shortlist(self):
        value = self.cleaned_data["shortlist"]
        return None if value == NEW_LIST else self.user_lists.get(pk=value)

    def clean(self):
        cleaned = super().clean()
        cleaned["origin"], cleaned["radius"], cleaned["situation"] = search_context(cleaned.get("query", ""))
        return cleaned


class ShortlistApiForm(forms.Form):
    """The scalar part of the API body; `situation` and `items` are checked by `clean_api_body`."""

    title = forms.CharField(max_length=200)
    origin_zip = forms.CharField(max_length=10, required=False)
    radius_miles = forms.IntegerField(min_value=1, max_value=500, required=False)

    def clean_origin_zip(self):
        raw = self.cleaned_data["origin_zip"]
        return ZipCode.objects.for_input(raw).code if raw else ""


def clean_situation(data) -> tuple[dict, dict]:
    """Return (Situation.to_dict(), errors) for a JSON situation, validated by the search's SituationForm."""
    if not isinstance(data, dict):
        return {}, {"situation": ["Give the situation as an object."]}
    unknown = sorted(set(data) - set(SituationForm.base_fields))
    if unknown:
        return {}, {"situation": [f"Unknown key: {key}" for key in unknown]}
    form = SituationForm.from_json(data)
    if not form.is_valid():
        return {}, {f"situation.{key}": list(messages) for key, messages in form.errors.items()}
    return form.situation.to_dict(), {}


def clean_items(data, *, field="items") -> tuple[list[tuple[Specialist, str]], dict]:
    """Return ([(specialist, note)], errors) for `[{"specialist": <id or NPI>, "note": "…"}]`."""
    if not isinstance(data, list):
        return [], {field: ["Give the items as a list."]}
    items, errors, seen = [], [], set()
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or "specialist" not in entry:
            errors.append(f"Item {index + 1}: give {{'specialist': <id or NPI>, 'note': '…'}}.")
            continue
        key, note = str(entry["specialist"]).strip(), entry.get("note") or ""
        lookup = {"npi": key} if len(key) == 10 and key.isdigit() else {"pk": key} if key.isdigit() else None
        specialist = Specialist.objects.published().filter(**lookup).first() if lookup else None
        if specialist is None:
            errors.append(f"Item {index + 1}: no published specialist with id or NPI {key!r}.")
        elif specialist.pk in seen:
            errors.append(f"Item {index + 1}: {specialist.display_name} is already on the list.")
        elif not isinstance(note, str) or len(note) > 2000:
            errors.append(f"Item {index + 1}: the note must be text of at most 2000 characters.")
        else:
            seen.add(specialist.pk)
            items.append((specialist, note))
    return items, ({field: errors} if errors else {})


class AccountRequestForm(forms.ModelForm):
    class Meta:
        model = AccountRequest
        fields = ["name", "email", "npi", "practice"]
        labels = {"name": "Your name", "email": "Work email", "npi": "Your NPI"}
        help_texts = {"npi": "Your individual 10-digit National Provider Identifier; we check it before approving."}

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if AccountRequest.objects.filter(email__iexact=email, status=AccountRequest.Status.PENDING).exists():
            raise forms.ValidationError("A request for this email is already waiting for review.")
        return email
