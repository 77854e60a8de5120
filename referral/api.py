from django.http import JsonResponse  # noqa: F401
