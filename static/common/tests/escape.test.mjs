// The one HTML escaper the dashboard and monitor build markup with.
import test from "node:test";
import assert from "node:assert/strict";
import { escapeHtml } from "../escape.mjs";

test("every character that could open a tag or end an attribute is escaped", () => {
  assert.equal(escapeHtml(`<img src=x onerror="a('b')">&`), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  assert.equal(escapeHtml(42), "42");
  assert.equal(escapeHtml(null), "null");
});
