// Auto-layout: dagre places the document's nodes left to right. dagre is passed in (the
// page has the vendored UMD global, the tests load the same file with require) so this
// stays free of DOM and globals.

export const NODE_SIZE = { width: 180, height: 56 };

export function layoutPositions(doc, dagre, size = NODE_SIZE) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 40, marginy: 40 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of doc.nodes) g.setNode(node.id, { width: size.width, height: size.height });
  for (const edge of doc.edges) g.setEdge(edge.source, edge.target);
  dagre.layout(g);
  const positions = {};
  for (const node of doc.nodes) {
    const placed = g.node(node.id);
    positions[node.id] = { x: Math.round(placed.x - size.width / 2), y: Math.round(placed.y - size.height / 2) };
  }
  return positions;
}
