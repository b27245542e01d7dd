import pytest

from topology.models import TopologyVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", None))
    return client


def test_the_admin_lists_and_shows_topologies(superuser_client, page_views_topology):
    assert superuser_client.get("/admin/topology/topology/").status_code == 200
    page = superuser_client.get(f"/admin/topology/topology/{page_views_topology.pk}/change/")
    assert page.status_code == 200
    assert b"page-views" in page.content


def test_the_admin_shows_versions_read_only(superuser_client, page_views_topology):
    version = page_views_topology.versions.get()
    assert superuser_client.get("/admin/topology/topologyversion/").status_code == 200
    url = f"/admin/topology/topologyversion/{version.pk}/change/"
    page = superuser_client.get(url)
    assert page.status_code == 200
    assert version.plan_hash.encode() in page.content
    assert b'name="_save"' not in page.content
    assert superuser_client.post(url, {"message": "edited"}).status_code == 403
    assert TopologyVersion.objects.get(pk=version.pk).message == "first"
    assert superuser_client.get("/admin/topology/topologyversion/add/").status_code == 403
