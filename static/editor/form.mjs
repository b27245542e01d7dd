// A small generic JSON Schema form renderer. Every node's config form comes from the
// catalog's schema (pydantic output: $ref/$defs, anyOf with null, enum, discriminated oneOf),
// so no form is written by hand per node type. Each field carries data-field="dotted.path"
// so compiler issues (which name a field) can be shown inline.

import { h as el } from "../common/dom.mjs";

function resolve(schema, defs) {
  let current = schema ?? {};
  for (let depth = 0; current.$ref && depth < 20; depth++) {
    const name = current.$ref.split("/").pop();
    const { $ref, ...rest } = current;
    current = { ...(defs[name] ?? {}), ...rest };
  }
  return current;
}

// Nested unions (pydantic writes "Window | None" as anyOf[oneOf[...], null]) become one list.
function variantsOf(schema, defs = {}) {
  const list = schema.anyOf ?? schema.oneOf ?? null;
  if (!list) return null;
  return list.flatMap((v) => {
    const r = resolve(v, defs);
    return r.anyOf || r.oneOf ? variantsOf(r, defs) : [v];
  });
}

function typeOf(schema) {
  if (schema.enum || schema.const !== undefined) return "enum";
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null") ?? "string";
  if (schema.type) return schema.type;
  if (schema.properties) return "object";
  return "string";
}

function isNullSchema(schema) {
  return schema.type === "null";
}

// Fields holding SQL get a monospace textarea; the catalog marks them, or their name does.
function isExpression(schema, key) {
  return Boolean(
    schema.format === "expression" ||
      schema.format === "sql" ||
      schema["x-expression"] ||
      schema["x-weir-expression"] ||
      schema.contentMediaType === "application/sql" ||
      ["where", "expression", "predicate", "condition", "on"].includes(key),
  );
}

let fieldCounter = 0;

function labelFor(schema, key) {
  return schema.title ?? String(key).replace(/_/g, " ");
}

function variantLabel(variant, defs, index) {
  const v = resolve(variant, defs);
  if (v.title) return v.title;
  const discriminator = Object.entries(v.properties ?? {}).find(([, p]) => p.const !== undefined || p.enum?.length === 1);
  if (discriminator) return String(discriminator[1].const ?? discriminator[1].enum[0]);
  return typeOf(v) === "null" ? "none" : `${typeOf(v)} ${index + 1}`;
}

function guessVariant(variants, defs, value) {
  if (value === null || value === undefined) {
    const nullIndex = variants.findIndex((v) => isNullSchema(resolve(v, defs)));
    if (nullIndex >= 0) return nullIndex;
  }
  for (const [i, raw] of variants.entries()) {
    const v = resolve(raw, defs);
    const t = typeOf(v);
    if (t === "null") continue;
    if (t === "object" && value && typeof value === "object" && !Array.isArray(value)) {
      const tag = Object.entries(v.properties ?? {}).find(([, p]) => p.const !== undefined || p.enum?.length === 1);
      if (!tag || value[tag[0]] === (tag[1].const ?? tag[1].enum[0])) return i;
    } else if (t === "array" && Array.isArray(value)) return i;
    else if ((t === "string" || t === "enum") && typeof value === "string") return i;
    else if ((t === "number" || t === "integer") && typeof value === "number") return i;
    else if (t === "boolean" && typeof value === "boolean") return i;
  }
  return variants.findIndex((v) => !isNullSchema(resolve(v, defs)));
}

function initialValue(schema, defs) {
  const s = resolve(schema, defs);
  if (s.default !== undefined) return JSON.parse(JSON.stringify(s.default));
  const t = typeOf(s);
  if (t === "object") {
    const out = {};
    for (const [k, sub] of Object.entries(s.properties ?? {})) {
      const rs = resolve(sub, defs);
      if (rs.const !== undefined) out[k] = rs.const;
      else if (rs.enum?.length === 1) out[k] = rs.enum[0];
      else if ((s.required ?? []).includes(k)) out[k] = initialValue(rs, defs);
    }
    return out;
  }
  if (t === "array") return [];
  if (t === "boolean") return false;
  if (t === "number" || t === "integer") return 0;
  if (t === "enum") return (s.enum ?? [s.const])[0];
  if (t === "null") return null;
  return "";
}

/**
 * Render a form for `schema` editing `value` in place. `onChange(value, {final})` is called
 * on every edit (final=true on commit-worthy changes such as blur or select), with the whole
 * new value. Returns the root element.
 */
export function renderSchemaForm(schema, defs, value, onChange) {
  const state = { value: value ?? {} };
  const emit = (final) => onChange(state.value, { final });
  const root = el("div", { class: "schema-form" });
  root.append(
    renderField(schema, defs, "", null, () => state.value, (v, final) => {
      state.value = v;
      emit(final);
    }, true),
  );
  return root;
}

function fieldWrapper(path, label, description, required, control, controlId) {
  const wrap = el("div", { class: "field", "data-field": path });
  if (label) {
    wrap.append(
      el("label", { for: controlId, text: label + (required ? " *" : "") }),
    );
  }
  wrap.append(control);
  if (description) wrap.append(el("div", { class: "field-help", text: description }));
  wrap.append(el("div", { class: "field-errors", role: "alert", "aria-live": "polite" }));
  return wrap;
}

function renderField(rawSchema, defs, path, key, get, set, isRoot = false, required = false) {
  const schema = resolve(rawSchema, defs);
  const label = isRoot ? null : labelFor(schema, key);
  const id = `f${++fieldCounter}`;
  const variants = variantsOf(schema, defs);

  if (variants) {
    const nonNull = variants.filter((v) => !isNullSchema(resolve(v, defs)));
    // "X or null": one control for X, with an explicit way to leave it empty.
    if (nonNull.length === 1 && typeOf(resolve(nonNull[0], defs)) !== "object" && !variantsOf(resolve(nonNull[0], defs), defs)) {
      const inner = { ...resolve(nonNull[0], defs), title: schema.title, description: schema.description, default: undefined };
      const nullable = nonNull.length < variants.length;
      return renderField(inner, defs, path, key, get, (v, final) => set(nullable && v === "" ? null : v, final), isRoot, required);
    }
    // "10s" or 10000: durations and similar scalar unions read best as one text box.
    const scalarTypes = nonNull.map((v) => typeOf(resolve(v, defs)));
    if (nonNull.length > 1 && scalarTypes.every((t) => ["string", "integer", "number"].includes(t))) {
      const numeric = scalarTypes.find((t) => t === "integer" || t === "number");
      const nullable = nonNull.length < variants.length;
      const example = nonNull.map((v) => resolve(v, defs).examples?.[0]).find((x) => x !== undefined);
      const input = el("input", { id, type: "text", "aria-label": label ?? key, placeholder: example ?? "" });
      input.value = get() ?? "";
      const read = () => {
        const text = input.value.trim();
        if (text === "") return nullable ? null : undefined;
        if (numeric && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
        return text;
      };
      input.addEventListener("input", () => set(read(), false));
      input.addEventListener("change", () => set(read(), true));
      return isRoot ? input : fieldWrapper(path, label, schema.description, required, input, id);
    }
    const container = el("div", { class: "variant" });
    const select = el("select", { id, "aria-label": label ?? "variant" });
    variants.forEach((v, i) => select.append(el("option", { value: String(i), text: variantLabel(v, defs, i) })));
    // "One expression, several, or none" (a group key): with nothing set, show the box for one;
    // left empty it keeps the value null, as the "X or null" control above does.
    const nullIndex = variants.findIndex((v) => isNullSchema(resolve(v, defs)));
    const scalarIndex = variants.findIndex((v) => ["string", "integer", "number"].includes(typeOf(resolve(v, defs))));
    let current = guessVariant(variants, defs, get());
    if (current === nullIndex && nullIndex >= 0 && scalarIndex >= 0) current = scalarIndex;
    select.value = String(Math.max(current, 0));
    const body = el("div", { class: "variant-body" });
    const draw = () => {
      body.replaceChildren();
      const chosen = resolve(variants[current], defs);
      if (!isNullSchema(chosen)) {
        const sub = { ...chosen };
        const emptyIsNull = nullIndex >= 0 && current === scalarIndex;
        const setChosen = emptyIsNull ? (v, final) => set(v === "" ? null : v, final) : set;
        body.append(renderField(sub, defs, path, key, get, setChosen, true));
      }
    };
    select.addEventListener("change", () => {
      current = Number(select.value);
      set(initialValue(variants[current], defs), true);
      draw();
    });
    draw();
    container.append(select, body);
    return isRoot ? container : fieldWrapper(path, label, schema.description, required, container, id);
  }

  const type = typeOf(schema);
  const described = (control) => (isRoot ? control : fieldWrapper(path, label, schema.description, required, control, id));

  const mapValues = schema.additionalProperties ?? Object.values(schema.patternProperties ?? {})[0];
  if (type === "object" && (schema.properties || !mapValues)) {
    const box = el(isRoot ? "div" : "fieldset", { class: "object" });
    if (!isRoot && label) box.append(el("legend", { text: label }));
    const requiredKeys = new Set(schema.required ?? []);
    for (const [prop, sub] of Object.entries(schema.properties ?? {})) {
      const rs = resolve(sub, defs);
      // Discriminator tags are chosen by the variant select, not typed.
      if (rs.const !== undefined || (rs.enum?.length === 1 && !isRoot)) continue;
      const childPath = path ? `${path}.${prop}` : prop;
      box.append(
        renderField(
          sub,
          defs,
          childPath,
          prop,
          () => (get() ?? {})[prop],
          (v, final) => {
            const next = { ...(get() ?? {}) };
            if (v === undefined) delete next[prop];
            else next[prop] = v;
            set(next, final);
          },
          false,
          requiredKeys.has(prop),
        ),
      );
    }
    if (isRoot) return box;
    const wrap = el("div", { class: "field", "data-field": path }, box, el("div", { class: "field-errors", role: "alert" }));
    return wrap;
  }

  if (type === "object") {
    // A map such as aggregations: output name → expression.
    const valueSchema = mapValues === true ? { type: "string" } : mapValues;
    const list = el("div", { class: "map-entries" });
    const draw = () => {
      list.replaceChildren();
      const entries = Object.entries(get() ?? {});
      entries.forEach(([k, v], index) => {
        const keyInput = el("input", { type: "text", value: k, "aria-label": `${label ?? "entry"} name ${index + 1}`, class: "map-key" });
        keyInput.addEventListener("change", () => {
          const rebuilt = {};
          for (const [ok, ov] of Object.entries(get() ?? {})) rebuilt[ok === k ? keyInput.value : ok] = ov;
          set(rebuilt, true);
          draw();
        });
        const valueField = renderField(
          { ...resolve(valueSchema, defs), title: undefined },
          defs,
          `${path}.${k}`,
          k,
          () => (get() ?? {})[k],
          (nv, final) => set({ ...(get() ?? {}), [k]: nv }, final),
          true,
        );
        const remove = el("button", { type: "button", class: "small", "aria-label": `Remove ${k}`, text: "✕" });
        remove.addEventListener("click", () => {
          const next = { ...(get() ?? {}) };
          delete next[k];
          set(next, true);
          draw();
        });
        const row = el("div", { class: "map-row field", "data-field": `${path}.${k}` }, keyInput, valueField, remove, el("div", { class: "field-errors", role: "alert" }));
        list.append(row);
      });
    };
    const add = el("button", { type: "button", class: "small", text: `Add ${label ?? "entry"}` });
    add.addEventListener("click", () => {
      const current = get() ?? {};
      let n = Object.keys(current).length + 1;
      while (`field_${n}` in current) n++;
      set({ ...current, [`field_${n}`]: initialValue(valueSchema, defs) }, true);
      draw();
    });
    draw();
    return described(el("div", { class: "map" }, list, add));
  }

  if (type === "array") {
    const itemSchema = resolve(schema.items ?? { type: "string" }, defs);
    const itemType = typeOf(itemSchema);
    // Short lists of scalars (topics, fields) read best as one comma-separated input; not
    // lists of expressions (a composite key's), whose items hold commas of their own.
    if (["string", "number", "integer"].includes(itemType) && !variantsOf(itemSchema, defs) && !isExpression(itemSchema, key)) {
      const input = el("input", { id, type: "text", "aria-label": label ?? key });
      input.value = (get() ?? []).join(", ");
      const parse = () =>
        input.value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => (itemType === "string" ? s : Number(s)));
      input.addEventListener("input", () => set(parse(), false));
      input.addEventListener("change", () => set(parse(), true));
      return described(input);
    }
    const list = el("div", { class: "array-items" });
    const draw = () => {
      list.replaceChildren();
      (get() ?? []).forEach((item, index) => {
        const itemField = renderField(
          itemSchema,
          defs,
          `${path}.${index}`,
          index,
          () => (get() ?? [])[index],
          (nv, final) => {
            const next = [...(get() ?? [])];
            next[index] = nv;
            set(next, final);
          },
          true,
        );
        const remove = el("button", { type: "button", class: "small", "aria-label": `Remove item ${index + 1}`, text: "✕" });
        remove.addEventListener("click", () => {
          const next = [...(get() ?? [])];
          next.splice(index, 1);
          set(next, true);
          draw();
        });
        list.append(el("div", { class: "array-row field", "data-field": `${path}.${index}` }, itemField, remove, el("div", { class: "field-errors", role: "alert" })));
      });
    };
    const add = el("button", { type: "button", class: "small", text: `Add ${label ?? "item"}` });
    add.addEventListener("click", () => {
      set([...(get() ?? []), initialValue(itemSchema, defs)], true);
      draw();
    });
    draw();
    return described(el("div", { class: "array" }, list, add));
  }

  if (type === "enum") {
    const options = schema.enum ?? [schema.const];
    const select = el("select", { id, "aria-label": label ?? key });
    if (!required && schema.default === undefined) select.append(el("option", { value: "", text: "—" }));
    options.forEach((o) => select.append(el("option", { value: JSON.stringify(o), text: o === null ? "none" : String(o) })));
    const current = get();
    select.value = current === undefined ? (select.options[0]?.value ?? "") : JSON.stringify(current);
    select.addEventListener("change", () => set(select.value === "" ? undefined : JSON.parse(select.value), true));
    return described(select);
  }

  if (type === "boolean") {
    const box = el("input", { id, type: "checkbox", "aria-label": label ?? key });
    box.checked = Boolean(get() ?? schema.default);
    box.addEventListener("change", () => set(box.checked, true));
    return described(box);
  }

  if (type === "number" || type === "integer") {
    const input = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", "aria-label": label ?? key });
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
    input.value = get() ?? "";
    const read = () => (input.value === "" ? undefined : type === "integer" ? parseInt(input.value, 10) : Number(input.value));
    input.addEventListener("input", () => set(read(), false));
    input.addEventListener("change", () => set(read(), true));
    return described(input);
  }

  const expression = isExpression(schema, key);
  const input = expression
    ? el("textarea", { id, rows: "2", class: "expr", spellcheck: "false", "aria-label": label ?? key })
    : el("input", { id, type: "text", "aria-label": label ?? key });
  if (schema.examples?.[0] !== undefined || schema.placeholder) input.placeholder = String(schema.placeholder ?? schema.examples[0]);
  input.value = get() ?? "";
  input.addEventListener("input", () => set(input.value, false));
  input.addEventListener("change", () => set(input.value, true));
  return described(input);
}

/** Show issues inline under the fields they name; returns the issues no field claimed. */
export function paintFieldIssues(formRoot, issues) {
  for (const box of formRoot.querySelectorAll(".field-errors")) box.replaceChildren();
  for (const f of formRoot.querySelectorAll(".field.has-error")) f.classList.remove("has-error");
  const unclaimed = [];
  for (const issue of issues) {
    const field = String(issue.field ?? "").replace(/^config\./, "").replace(/\[(\w+)\]/g, ".$1");
    let target = null;
    const parts = field.split(".");
    while (parts.length && !target) {
      target = formRoot.querySelector(`.field[data-field="${CSS.escape(parts.join("."))}"]`);
      parts.pop();
    }
    if (!target) {
      unclaimed.push(issue);
      continue;
    }
    target.classList.add("has-error");
    const where = issue.position != null ? ` (at character ${issue.position})` : "";
    const box = target.querySelector(":scope > .field-errors") ?? target.querySelector(".field-errors");
    box.append(el("div", { class: "field-error", text: `${issue.message}${where}` }));
  }
  return unclaimed;
}
