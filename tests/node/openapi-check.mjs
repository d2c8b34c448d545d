// openapi-check.mjs: checks the admin API against its OpenAPI 3.1
// document (admin-api/openapi.json), for tests/e2e/test_admin_api.py.
//
// Started with the document's path. It first validates the document
// against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator)
// and prints one line {"document": true} or {"document": false,
// "errors": [...]}. Then it reads one JSON line per answer the tests got
// ({"method", "path", "status", "content_type", "body"}) and prints one
// line each: {"ok": true}, or {"ok": false, "why": "..."} when no
// operation of the document has that path, method and status, or the
// body does not match its schema (Ajv, JSON Schema 2020-12, the dialect
// of OpenAPI 3.1).
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020Module from "ajv/dist/2020.js";

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const docPath = process.argv[2];
const doc = JSON.parse(readFileSync(docPath, "utf8"));

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const validator = new Validator();
const res = await validator.validate(doc);
out(res.valid ? { document: true }
  : { document: false, errors: res.errors });

// The whole document is one schema resource, so "#/components/..." refs
// resolve; its other members are not keywords, hence strict off.
const ID = "https://latchkey.invalid/admin/openapi.json";
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ ...doc, $id: ID });

const esc = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");

// The template of doc.paths that path fits ("/admin/clients/{client_id}").
function template(path) {
  const segs = path.split("/");
  for (const t of Object.keys(doc.paths)) {
    const ts = t.split("/");
    if (ts.length === segs.length &&
        ts.every((s, i) => (s.startsWith("{") ? segs[i] !== "" : s === segs[i])))
      return t;
  }
  return null;
}

// A response object, following one $ref to components.responses.
function resolve(r) {
  if (r && r.$ref) {
    const name = r.$ref.split("/").pop();
    return { obj: doc.components.responses[name],
             ptr: `#/components/responses/${esc(name)}` };
  }
  return { obj: r, ptr: null };
}

function check(a) {
  const t = template(a.path.split("?")[0]);
  if (t === null) return `no path of the document fits ${a.path}`;
  const op = doc.paths[t][a.method.toLowerCase()];
  if (!op) return `${a.method} ${t} is not in the document`;
  const key = String(a.status);
  const raw = op.responses[key] ?? op.responses.default;
  if (!raw) return `${a.method} ${t}: status ${key} is not in the document`;
  const { obj, ptr } = resolve(raw);
  const base = ptr ?? `#/paths/${esc(t)}/${a.method.toLowerCase()}` +
    `/responses/${esc(op.responses[key] ? key : "default")}`;
  const media = obj.content && obj.content["application/json"];
  if (!media) {
    return a.body === null || a.body === ""
      ? null : `${a.method} ${t} ${key}: the document says no body`;
  }
  if (!(a.content_type || "").startsWith("application/json"))
    return `${a.method} ${t} ${key}: Content-Type ${a.content_type}`;
  const validate = ajv.getSchema(`${ID}${base}/content/application~1json/schema`);
  if (!validate) return `${a.method} ${t} ${key}: no schema at ${base}`;
  if (validate(a.body)) return null;
  return `${a.method} ${t} ${key}: ` + ajv.errorsText(validate.errors);
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === "") continue;
  let why;
  try {
    why = check(JSON.parse(line));
  } catch (e) {
    why = `checker: ${e.message}`;
  }
  out(why === null ? { ok: true } : { ok: false, why });
}
