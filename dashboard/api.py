from ninja import Router

from dashboard.health import health_for

router = Router(tags=["dashboard"])


@router.get(
    "/health", auth=None, response={200: dict, 503: dict}, summary="Health of Kafka, Redis, database, Celery"
)
def health(request):
    """No login needed (load balancers and scripts poll it). 503 when any entry is red.
    Anonymous callers see the verdicts only; the details need a login."""
    report = health_for(request.user)
    return (200 if report["ok"] else 503), report
