"""The live protocol over the real ASGI stack and the settings' Redis channel layer."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
from django.conf import settings

from dashboard import groups
from dashboard.publisher import DeploymentEventSink
from dashboard.serving import read_table_sync
from tests.dashboard.conftest import communicator, make_deployment, session_cookie
from tests.dashboard.live_client import ReferenceClient, canonical

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def delta(view, seq, rows, windowed=False):
    return {
        "type": "table_delta",
        "view": view,
        "seq": seq,
        "windowed": windowed,
        "rows": [{"key": k, "value": v} for k, v in rows],
    }


class FrameDroppingSink(DeploymentEventSink):
    """Writes to the serving table as usual but loses the next N published frames in transit,
    as a full channel-layer queue or a dropped connection would."""

    drop_next = 0

    def _send(self, group, frame):
        if self.drop_next:
            self.drop_next -= 1
            return
        super()._send(group, frame)


def test_subscriber_gets_the_snapshot_then_deltas_in_order(owner, deployment, clear_serving):
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(delta("counts", 1, [("alice", {"count": 1}), ("bob", {"count": 1})]))
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie)
        connected, _ = await ws.connect()
        assert connected
        client = ReferenceClient(ws, deployment.pk, "counts")
        await client.subscribe()
        snapshot = await client.step()
        assert snapshot["type"] == "view.snapshot" and snapshot["v"] == 1
        assert client.rows == {canonical("alice"): {"count": 1}, canonical("bob"): {"count": 1}}
        await asyncio.to_thread(sink.emit, delta("counts", 2, [("alice", {"count": 2}), ("bob", None)]))
        frame = await client.step()
        assert frame["type"] == "view.delta" and frame["seq"] == snapshot["seq"] + 1
        assert client.rows == {canonical("alice"): {"count": 2}}
        await ws.disconnect()

    asyncio.run(scenario())


def test_forced_gap_makes_the_client_resync_to_the_serving_table(owner, deployment, clear_serving):
    sink = FrameDroppingSink(deployment.pk, 0)
    sink.emit(delta("counts", 1, [(f"user-{i}", {"count": i}) for i in range(50)]))
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        client = ReferenceClient(ws, deployment.pk, "counts")
        await client.subscribe()
        await client.step()
        sink.drop_next = 1
        await asyncio.to_thread(sink.emit, delta("counts", 2, [("user-3", None), ("user-7", {"count": 700})]))
        await asyncio.to_thread(
            sink.emit, delta("counts", 3, [("user-8", {"count": 800}), ("new", {"count": 1})])
        )
        # The client sees seq jump by two, asks for the snapshot, and converges.
        await client.until(lambda: client.resyncs == 1 and client.seq is not None)
        seq, table = await asyncio.to_thread(read_table_sync, deployment.pk, "counts")
        assert client.seq == seq
        assert client.rows == table
        assert client.rows[canonical("user-7")] == {"count": 700}
        assert canonical("user-3") not in client.rows
        await ws.disconnect()

    asyncio.run(scenario())


def test_windowed_keys_keep_window_start_and_end(owner, deployment, clear_serving):
    sink = DeploymentEventSink(deployment.pk, 0)
    window = {"key": "alice", "window_start": 60_000, "window_end": 120_000}
    sink.emit(delta("minutes", 1, [(window, {"count": 3})], windowed=True))
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        client = ReferenceClient(ws, deployment.pk, "minutes")
        await client.subscribe()
        snapshot = await client.step()
        assert snapshot["windowed"] is True
        assert snapshot["rows"] == [{"key": window, "value": {"count": 3}}]
        await ws.disconnect()

    asyncio.run(scenario())


def test_another_users_view_is_refused_with_a_reason(owner, stranger, deployment, clear_serving):
    cookie = session_cookie(stranger)

    async def scenario():
        ws = communicator(cookie)
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(
            text_data=json.dumps(
                {"v": 1, "type": "view.subscribe", "deployment": deployment.pk, "view": "counts"}
            )
        )
        error = json.loads(await ws.receive_from())
        assert error["type"] == "live.error"
        assert f"deployment {deployment.pk} does not exist or is not yours" in error["reason"]
        closed = await ws.receive_output()
        assert closed["type"] == "websocket.close" and closed["code"] == 4403
        assert "not yours" in closed["reason"]

    asyncio.run(scenario())


def test_staff_may_watch_any_view_but_not_one_the_deployment_lacks(staff, deployment, clear_serving):
    cookie = session_cookie(staff)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        client = ReferenceClient(ws, deployment.pk, "counts")
        await client.subscribe()
        assert (await client.step())["type"] == "view.snapshot"
        await ws.send_to(
            text_data=json.dumps(
                {"v": 1, "type": "view.subscribe", "deployment": deployment.pk, "view": "nope"}
            )
        )
        error = json.loads(await ws.receive_from())
        assert error["type"] == "live.error" and "has no view node 'nope'" in error["reason"]
        closed = await ws.receive_output()
        assert closed["code"] == 4403

    asyncio.run(scenario())


def test_socket_without_a_session_is_refused(deployment):
    async def scenario():
        ws = communicator(None)
        connected, code = await ws.connect()
        assert not connected
        assert code == 4401

    asyncio.run(scenario())


def test_socket_from_a_foreign_origin_is_refused(owner, deployment):
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie, origin="http://evil.example")
        connected, _ = await ws.connect()
        assert not connected

    asyncio.run(scenario())


def test_many_sockets_in_one_process_share_one_group_membership(owner, deployment, clear_serving):
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(delta("counts", 1, [("alice", {"count": 1})]))
    cookie = session_cookie(owner)
    layer_prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    group_key = f"{layer_prefix}:group:{groups.view_group(deployment.pk, 'counts')}"
    raw = redis.Redis.from_url(settings.REDIS_URL)

    async def scenario():
        sockets = [communicator(cookie) for _ in range(5)]
        clients = []
        for ws in sockets:
            await ws.connect()
            client = ReferenceClient(ws, deployment.pk, "counts")
            await client.subscribe()
            await client.step()
            clients.append(client)
        assert raw.zcard(group_key) == 1
        await asyncio.to_thread(sink.emit, delta("counts", 2, [("alice", {"count": 2})]))
        frames = [await c.step() for c in clients]
        # The same serialised frame reached every socket.
        assert len({json.dumps(f, sort_keys=True) for f in frames}) == 1
        assert all(c.rows == {canonical("alice"): {"count": 2}} for c in clients)
        for ws in sockets:
            await ws.disconnect()

    asyncio.run(scenario())
    raw.close()


def test_the_hub_tells_the_sink_how_many_sockets_watch_a_view_and_the_tick_follows(
    owner, deployment, clear_serving
):
    from dashboard.publisher import MIN_VIEW_TICK_S, UNWATCHED_VIEW_TICK_S

    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(delta("counts", 1, [("alice", {"count": 1})]))
    assert sink.watchers("counts") == 0
    assert sink.view_interval_s("counts") == UNWATCHED_VIEW_TICK_S
    cookie = session_cookie(owner)

    def fresh_count():
        return DeploymentEventSink(deployment.pk, 0).watchers("counts")  # no cached reading

    async def until_count(expected):
        for _ in range(40):  # the hub refreshes every second
            if await asyncio.to_thread(fresh_count) == expected:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"watchers never became {expected}: {await asyncio.to_thread(fresh_count)}")

    async def scenario():
        sockets = [communicator(cookie) for _ in range(3)]
        for ws in sockets:
            await ws.connect()
            client = ReferenceClient(ws, deployment.pk, "counts")
            await client.subscribe()
            await client.step()
        await until_count(3)
        other = DeploymentEventSink(deployment.pk, 1)
        assert other.view_interval_s("counts") == MIN_VIEW_TICK_S
        await sockets[0].disconnect()
        await until_count(2)
        for ws in sockets[1:]:
            await ws.disconnect()
        await until_count(0)

    asyncio.run(scenario())


def test_monitor_subscription_gets_slot_state_then_events(owner, deployment, clear_serving):
    sink = DeploymentEventSink(deployment.pk, 1)
    sink.emit({"type": "status", "status": "running", "error": None})
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        await ws.send_to(
            text_data=json.dumps({"v": 1, "type": "monitor.subscribe", "deployment": deployment.pk})
        )
        snapshot = json.loads(await ws.receive_from())
        assert snapshot["type"] == "monitor.snapshot"
        assert snapshot["slots"]["1"]["status"] == "running"
        lag = {
            "type": "lag",
            "partitions": [{"topic": "clicks", "partition": 0, "committed": 5, "end": 9, "lag": 4}],
        }
        await asyncio.to_thread(sink.emit, lag)
        event = json.loads(await ws.receive_from())
        assert event["type"] == "monitor.event" and event["slot"] == 1
        assert event["state"]["lag"][0]["lag"] == 4
        await ws.disconnect()

    asyncio.run(scenario())


def test_other_users_deployment_monitor_is_refused(stranger, owner, clear_serving):
    deployment = make_deployment(owner)
    cookie = session_cookie(stranger)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        await ws.send_to(
            text_data=json.dumps({"v": 1, "type": "monitor.subscribe", "deployment": deployment.pk})
        )
        error = json.loads(await ws.receive_from())
        assert error["type"] == "live.error"
        assert (await ws.receive_output())["code"] == 4403

    asyncio.run(scenario())


def test_sockets_subscribing_at_once_share_snapshot_reads(owner, deployment, clear_serving):
    from dashboard import serving

    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(delta("counts", 1, [(f"user-{i}", {"count": i}) for i in range(2000)]))
    cookie = session_cookie(owner)
    reads = []
    original = serving._read_snapshot

    async def counting_read(deployment_id, view_id):
        reads.append(view_id)
        return await original(deployment_id, view_id)

    async def scenario():
        serving._read_snapshot = counting_read
        try:
            sockets = [communicator(cookie) for _ in range(20)]
            for ws in sockets:
                await ws.connect()
            clients = [ReferenceClient(ws, deployment.pk, "counts") for ws in sockets]
            await asyncio.gather(*(c.subscribe() for c in clients))
            await asyncio.gather(*(c.step() for c in clients))
            assert all(len(c.rows) == 2000 and c.seq == 1 for c in clients)
            assert len(reads) < 20
            for ws in sockets:
                await ws.disconnect()
        finally:
            serving._read_snapshot = original

    asyncio.run(scenario())


def test_malformed_frames_close_the_socket_with_a_reason(owner, deployment):
    cookie = session_cookie(owner)

    async def scenario():
        for text, reason in [
            ("not json", "frame is not JSON"),
            (json.dumps({"v": 2, "type": "view.subscribe"}), "unsupported protocol version"),
            (json.dumps({"v": 1, "type": "view.explode"}), "unknown frame type 'view.explode'"),
            (
                json.dumps({"v": 1, "type": "view.subscribe", "deployment": "x", "view": "counts"}),
                "deployment must be an integer id",
            ),
        ]:
            ws = communicator(cookie)
            await ws.connect()
            await ws.send_to(text_data=text)
            error = json.loads(await ws.receive_from())
            assert error["type"] == "live.error" and reason in error["reason"]
            closed = await ws.receive_output()
            assert closed["type"] == "websocket.close" and closed["code"] in (4400, 4403)

    asyncio.run(scenario())
