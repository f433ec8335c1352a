// A small JSON Schema (2020-12 subset, as OpenAPI 3.1 uses it) validator and
// helpers that check real responses against src/api/openapi.json. Written
// for these tests; no dependency. Supported keywords: $ref (local, into the
// document), type (one name or an array of names, so "null" makes a value
// nullable), enum, const, properties, required, additionalProperties (false
// or a schema), items, minItems, uniqueItems, oneOf (exactly one), anyOf,
// allOf, minLength/maxLength (code points), pattern, minimum/maximum and
// format date-time (loosely: an ISO-8601 UTC date and time). Anything else
// (description, example, format uuid/uri, ...) is ignored.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const DOC_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'api', 'openapi.json');

let cached = null;
// The document as the repository has it (the binary embeds these bytes).
export function loadDoc() {
  if (!cached) cached = JSON.parse(readFileSync(DOC_PATH, 'utf8'));
  return cached;
}

// The value a local JSON pointer ("#/components/schemas/X") names, or undefined.
export function resolveRef(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  let cur = doc;
  for (const raw of ref.slice(2).split('/')) {
    const tok = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, tok)) return undefined;
    cur = cur[tok];
  }
  return cur;
}

// Follows $ref chains on an object (a response, a parameter, a schema).
export function deref(doc, obj) {
  let seen = 0;
  while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
    const next = resolveRef(doc, obj.$ref);
    if (next === undefined) throw new Error(`$ref ${obj.$ref} does not resolve`);
    obj = next;
    if (++seen > 32) throw new Error(`$ref loop at ${obj.$ref}`);
  }
  return obj;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // string, boolean, object
}

function typeMatches(want, v) {
  const t = typeOf(v);
  return want === t || (want === 'number' && t === 'integer');
}

const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function deepEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Returns a list of problems ("$.data[0].status: ...") of value against
// schema; empty when it conforms.
export function validate(doc, schema, value, path = '$', depth = 0) {
  const errs = [];
  if (depth > 64) return [`${path}: schema nesting too deep`];
  if (schema === true || schema === undefined) return errs;
  if (schema === false) return [`${path}: no value is allowed here`];
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(doc, schema.$ref);
    if (target === undefined) return [`${path}: $ref ${schema.$ref} does not resolve`];
    errs.push(...validate(doc, target, value, path, depth + 1));
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      errs.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(value)} ${JSON.stringify(value)?.slice(0, 80)}`);
      return errs; // the other keywords would only repeat it
    }
  }
  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    errs.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (Object.hasOwn(schema, 'const') && !deepEqual(schema.const, value)) {
    errs.push(`${path}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'string') {
    const n = [...value].length;
    if (schema.minLength !== undefined && n < schema.minLength) errs.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && n > schema.maxLength) errs.push(`${path}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      errs.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && !DATE_TIME_RE.test(value)) errs.push(`${path}: ${JSON.stringify(value)} is not a date-time`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${path}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${path}: ${value} > ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      errs.push(`${path}: items are not unique`);
    }
    if (schema.items !== undefined) {
      value.forEach((v, i) => errs.push(...validate(doc, schema.items, v, `${path}[${i}]`, depth + 1)));
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const k of schema.required || []) {
      if (!Object.hasOwn(value, k)) errs.push(`${path}: missing required ${k}`);
    }
    const props = schema.properties || {};
    if (schema.propertyNames !== undefined) {
      for (const k of Object.keys(value)) {
        errs.push(...validate(doc, schema.propertyNames, k, `${path}[${JSON.stringify(k)}] (name)`, depth + 1));
      }
    }
    for (const [k, v] of Object.entries(value)) {
      if (Object.hasOwn(props, k)) {
        errs.push(...validate(doc, props[k], v, `${path}.${k}`, depth + 1));
      } else if (schema.additionalProperties === false) {
        errs.push(`${path}: unexpected property ${k}`);
      } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        errs.push(...validate(doc, schema.additionalProperties, v, `${path}.${k}`, depth + 1));
      }
    }
  }
  if (schema.allOf) {
    schema.allOf.forEach((s, i) => errs.push(...validate(doc, s, value, path, depth + 1).map((e) => `${e} (allOf ${i})`)));
  }
  if (schema.anyOf) {
    const each = schema.anyOf.map((s) => validate(doc, s, value, path, depth + 1));
    if (!each.some((e) => e.length === 0)) errs.push(`${path}: matches none of anyOf: ${each.map((e) => e[0]).join(' | ')}`);
  }
  if (schema.oneOf) {
    const each = schema.oneOf.map((s) => validate(doc, s, value, path, depth + 1));
    const ok = each.filter((e) => e.length === 0).length;
    if (ok === 0) errs.push(`${path}: matches none of oneOf: ${each.map((e) => e[0]).join(' | ')}`);
    else if (ok > 1) errs.push(`${path}: matches ${ok} branches of oneOf, not exactly one`);
  }
  return errs;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

// The path template of doc.paths that a concrete path matches ("/api/v1/
// sessions/3f0c..." -> "/api/v1/sessions/{id}"), or null. Literal segments
// win over placeholders, as in the router.
// The path is percent-decoded first, as libmicrohttpd hands it to the router:
// "/api/v1/media/..%2Fx" is the three-segment "/api/v1/media/../x".
export function matchPath(doc, path) {
  let p = path.split('?')[0];
  try { p = decodeURIComponent(p); } catch { /* a malformed escape stays as it is */ }
  const segs = p.split('/');
  let best = null;
  let bestLiterals = -1;
  for (const tpl of Object.keys(doc.paths)) {
    const t = tpl.split('/');
    if (t.length !== segs.length) continue;
    let literals = 0;
    let ok = true;
    for (let i = 0; i < t.length && ok; i++) {
      if (/^\{[^}]+\}$/.test(t[i])) ok = segs[i].length > 0;
      else if (t[i] === segs[i]) literals++;
      else ok = false;
    }
    if (ok && literals > bestLiterals) { best = tpl; bestLiterals = literals; }
  }
  return best;
}

// The documented response object (dereferenced) for method + concrete path +
// status, or the site-wide one (405, unknown route 404, 413, 401 for an
// unknown /api/ path, OPTIONS, 414/431 for oversized heads, 403 CSRF_FAILED
// for a cookie's state-changing request to an unknown /api/ path or method)
// the document keeps in components/responses. Returns {tpl, op, response,
// name} or {problem}.
export function findResponse(doc, method, path, status, body) {
  const tpl = matchPath(doc, path);
  const m = method === 'HEAD' ? 'get' : method.toLowerCase(); // GET routes answer HEAD
  if (method === 'OPTIONS' && tpl && status === 204) {
    return { tpl, name: 'Options', response: deref(doc, { $ref: '#/components/responses/Options' }) };
  }
  const op = tpl ? doc.paths[tpl][m] : undefined;
  const site = (name) => ({ tpl, op, name, response: deref(doc, { $ref: `#/components/responses/${name}` }) });
  // heads past the limits are refused before any route is looked at
  if (status === 414) return site('UriTooLong');
  if (status === 431) return site('HeadersTooLarge');
  if (status === 405 && tpl && !op) return site('MethodNotAllowed');
  // the credentials are checked before the route is: an unknown path or
  // method under /api/ is refused as any state-changing cookie request
  if (status === 403 && (!tpl || !op) && path.startsWith('/api/') && body && body.error === 'CSRF_FAILED') {
    return site('CsrfFailed');
  }
  if (!tpl) {
    if (status === 404) return site('NoSuchRoute');
    if (status === 401 && path.startsWith('/api/')) return site('Unauthorized');
    if (status === 413) return site('PayloadTooLarge');
    if (status === 429) return site('RateLimited');
    return { problem: `${method} ${path}: no path of the document matches` };
  }
  if (!op) {
    if (status === 413) return site('PayloadTooLarge');
    if (status === 429) return site('RateLimited');
    return { problem: `${method} ${path} (${tpl}): the document has no ${m} operation` };
  }
  const r = op.responses[String(status)] ?? op.responses.default;
  if (r === undefined) {
    if (status === 413) return site('PayloadTooLarge');
    return { problem: `${method} ${tpl} (${op.operationId}): status ${status} is not documented${body && body.error ? ` (error ${body.error})` : ''}` };
  }
  return { tpl, op, name: `${op.operationId} ${status}`, response: deref(doc, r) };
}

// The web dashboard's files (docs/dashboard.md) are served to GET/HEAD of a
// path outside /api/ that no route has; the document does not describe them
// one by one but says so in info.description (take that sentence out and
// these answers fail the check). Its JSON answers (a 404 for a file it does
// not have) are still checked as components/responses/NoSuchRoute.
const DASHBOARD_SENTENCE = /`GET` or `HEAD` of a path outside `\/api\/` that no route below has serves the dashboard/;
function dashboardAnswer(doc, method, path, status, contentType) {
  const ct = (contentType || '').split(';')[0].trim().toLowerCase();
  return (method === 'GET' || method === 'HEAD') && !path.startsWith('/api/') && !matchPath(doc, path) &&
    (status === 200 || status === 304) && ct !== 'application/json' &&
    DASHBOARD_SENTENCE.test(doc.info?.description || '');
}

// Checks one real response: the status is documented for the operation, the
// content type is one the document lists, and a JSON body validates against
// its schema. Returns a list of problems (empty when it conforms).
export function checkResponse(doc, { method, path, status, contentType, body, text }) {
  if (dashboardAnswer(doc, method, path, status, contentType)) return [];
  const f = findResponse(doc, method, path, status, body);
  if (f.problem) return [f.problem];
  const content = f.response.content;
  const hasBody = text !== undefined ? text.length > 0 : body !== undefined && body !== null;
  if (!content) {
    return hasBody ? [`${f.name}: documented without a body, got ${String(text).slice(0, 80)}`] : [];
  }
  if (!hasBody) return status === 304 || method === 'HEAD' ? [] : [`${f.name}: documented with a body, got none`];
  const ct = (contentType || '').split(';')[0].trim().toLowerCase();
  // the most specific key wins: "image/png", then "image/*", then "*/*"
  const keys = Object.keys(content);
  const norm = (k) => k.split(';')[0].trim().toLowerCase();
  const key = keys.find((k) => norm(k) === ct) ?? keys.find((k) => norm(k) === `${ct.split('/')[0]}/*`) ??
    keys.find((k) => norm(k) === '*/*');
  if (!key || !ct) return [`${f.name}: content type ${contentType} is not one of ${keys.join(', ')}`];
  if (norm(key) !== 'application/json') return [];
  if (body === undefined) return [`${f.name}: the body is not JSON: ${String(text).slice(0, 80)}`];
  return validate(doc, content[key].schema, body, '$').map((e) => `${f.name}: ${e}`);
}

// Every operation of the document: [{path, method, op}].
export function operations(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (item[m]) out.push({ path, method: m, op: item[m], item });
  }
  return out;
}
