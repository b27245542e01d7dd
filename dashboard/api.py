from ninja import Router

from dashboard.health import collect_health

router = Router(tags=["dashboard"])


@router.get(
    "/health", auth=None, response={200: dict, 503: dict}, summary="Health of Kafka, Redis, database, Celery"
)
def health(request):
    """No login needed (load balancers and scripts poll it). 503 when any entry is red."""
    report = collect_health()
    return (200 if report["ok"] else 503), report
