"""Executable operators for the core plan operators (see topology.compiler.plan).

Most plan operators have one class; the stateful ones have one per variant, chosen by the
builder (``make_aggregate``, ``make_join``) from the operator's config:

==============  ==============================================================================
plan operator   classes
==============  ==============================================================================
source          ``stateless.SourceNode``
filter          ``stateless.FilterNode``
project         ``stateless.ProjectNode``
flat_map        ``stateless.FlatMapNode``
select_key      ``stateless.SelectKeyNode``
repartition     ``stateless.RepartitionNode``
sink            ``stateless.SinkNode``
view            ``stateless.ViewNode``
to_table        ``stateless.ToTableNode`` (keeps a store, but no time)
to_stream       ``stateless.ToStreamNode``
aggregate       ``aggregate.AggregateNode`` (no window); ``windows.TimeWindowAggregateNode``
                (tumbling, hopping), ``windows.SessionAggregateNode``,
                ``windows.SlidingAggregateNode``
join            ``join.StreamStreamJoinNode``, ``join.StreamTableJoinNode``,
                ``join.TableTableJoinNode``
==============  ==============================================================================

``stateless.TapNode`` is no plan operator: the test driver and the preview put one after an
operator to record what it emits. ``accumulators`` holds the aggregation algebra the aggregate
classes share; ``base`` the task context and the ``Node`` base class.
"""
