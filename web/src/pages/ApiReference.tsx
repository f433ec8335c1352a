import { useEffect, useState } from 'react';
import { Api, ApiError } from '../api';
import { ErrorBox } from '../components';

// The API reference: the server's own OpenAPI document (GET
// /api/v1/openapi.json, src/api/openapi.json), grouped by tag. Nothing here
// is written by hand: every line comes from the document.

type Obj = Record<string, unknown>;
export interface OpenApiDoc {
  info?: { title?: string; version?: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Obj>;
  components?: Obj;
}

export interface Param { name: string; in: string; required: boolean; description: string; schema: unknown }
export interface Body { contentType: string; schema: unknown }
export interface Reply { status: string; description: string; bodies: Body[] }
export interface Operation {
  method: string;
  path: string;
  operationId: string;
  summary: string;
  description: string;
  public: boolean;
  parameters: Param[];
  requestBody: { required: boolean; description: string; bodies: Body[] } | null;
  responses: Reply[];
}
export interface TagGroup { tag: string; description: string; operations: Operation[] }

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object a local $ref ("#/components/...") names, or undefined. */
export function lookup(doc: OpenApiDoc, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = doc;
  for (const seg of ref.slice(2).split('/')) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Follows $refs (parameters, responses, request bodies) to the object itself. */
function deref(doc: OpenApiDoc, v: unknown): Obj {
  for (let i = 0; i < 16 && isObj(v) && typeof v.$ref === 'string'; i++) v = lookup(doc, v.$ref);
  return isObj(v) ? v : {};
}

function bodies(doc: OpenApiDoc, content: unknown): Body[] {
  if (!isObj(content)) return [];
  return Object.entries(content).map(([contentType, media]) => ({ contentType, schema: deref(doc, media).schema }));
}

/** Every operation of the document, grouped by its first tag in the order of doc.tags (then any other tag). */
export function groupByTag(doc: OpenApiDoc): TagGroup[] {
  const groups = new Map<string, TagGroup>();
  for (const t of doc.tags ?? []) groups.set(t.name, { tag: t.name, description: str(t.description), operations: [] });
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const tag = Array.isArray(op.tags) && typeof op.tags[0] === 'string' ? op.tags[0] : 'Other';
      if (!groups.has(tag)) groups.set(tag, { tag, description: '', operations: [] });
      const params = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])].map((p) => deref(doc, p));
      const rb = op.requestBody === undefined ? null : deref(doc, op.requestBody);
      const responses = isObj(op.responses) ? op.responses : {};
      groups.get(tag)!.operations.push({
        method: method.toUpperCase(),
        path,
        operationId: str(op.operationId),
        summary: str(op.summary),
        description: str(op.description),
        public: Array.isArray(op.security) && op.security.length === 0,
        parameters: params.map((p) => ({
          name: str(p.name), in: str(p.in), required: p.required === true, description: str(p.description), schema: p.schema,
        })),
        requestBody: rb && { required: rb.required === true, description: str(rb.description), bodies: bodies(doc, rb.content) },
        responses: Object.entries(responses).map(([status, r]) => {
          const o = deref(doc, r);
          return { status, description: str(o.description), bodies: bodies(doc, o.content) };
        }),
      });
    }
  }
  return [...groups.values()].filter((g) => g.operations.length);
}

function scalar(s: Obj): string {
  if (Object.hasOwn(s, 'const')) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  let t = Array.isArray(s.type) ? s.type.join(' | ') : str(s.type) || 'any';
  const facts: string[] = [];
  if (typeof s.format === 'string') facts.push(s.format);
  if (s.minimum !== undefined || s.maximum !== undefined) facts.push(`${s.minimum ?? ''}..${s.maximum ?? ''}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) facts.push(`length ${s.minLength ?? 0}..${s.maxLength ?? ''}`);
  if (typeof s.pattern === 'string') facts.push(`/${s.pattern}/`);
  if (facts.length) t += ` (${facts.join(', ')})`;
  return t;
}

/**
 * A schema as indented text, e.g. `{ to: string, text?: string }` over
 * several lines. $refs show their name and are expanded once per branch
 * (a schema that refers to itself stops at its name).
 */
export function schemaText(doc: OpenApiDoc, schema: unknown, indent = '', seen: string[] = []): string {
  if (schema === true || schema === undefined) return 'any';
  if (schema === false) return 'nothing';
  if (!isObj(schema)) return '?';
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.split('/').pop() ?? schema.$ref;
    const target = lookup(doc, schema.$ref);
    if (seen.includes(schema.$ref) || seen.length > 6) return name;
    // a long list of names (ErrorCode): the name and the count, not every value
    if (isObj(target) && Array.isArray(target.enum) && target.enum.length > 8) return `${name} (one of ${target.enum.length} values)`;
    return `${name} ${schemaText(doc, target, indent, [...seen, schema.$ref])}`;
  }
  // oneOf/anyOf of bare `required` lists beside properties (SendMessageRequest:
  // exactly one of text, location, ...) constrain the object: shown after it
  const onlyRequired = (list: unknown) => Array.isArray(list) && list.length > 0 &&
    list.every((x) => isObj(x) && Object.keys(x).every((k) => k === 'required') && Array.isArray(x.required));
  const constraint = isObj(schema.properties) ? (['oneOf', 'anyOf'] as const).find((k) => onlyRequired(schema[k])) : undefined;
  for (const k of ['allOf', 'oneOf', 'anyOf'] as const) {
    const list = schema[k];
    if (Array.isArray(list) && k !== constraint) {
      const word = k === 'allOf' ? 'all of' : k === 'oneOf' ? 'one of' : 'any of';
      const inner = indent + '  ';
      return `${word}:\n` + list.map((s) => `${inner}- ${schemaText(doc, s, inner + '  ', seen)}`).join('\n');
    }
  }
  const nullable = Array.isArray(schema.type) && schema.type.includes('null') ? ' | null' : '';
  if (schema.type === 'array' || (Array.isArray(schema.type) && schema.type.includes('array'))) {
    return `array of ${schemaText(doc, schema.items, indent, seen)}${nullable}`;
  }
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) || isObj(schema.properties);
  if (isObject) {
    const props = isObj(schema.properties) ? schema.properties : {};
    const req = Array.isArray(schema.required) ? schema.required : [];
    const inner = indent + '  ';
    const lines = Object.entries(props).map(([k, v]) => `${inner}${k}${req.includes(k) ? '' : '?'}: ${schemaText(doc, v, inner, seen)}`);
    if (isObj(schema.additionalProperties)) lines.push(`${inner}[name]: ${schemaText(doc, schema.additionalProperties, inner, seen)}`);
    else if (schema.additionalProperties !== false && !lines.length) return 'object' + nullable;
    else if (schema.additionalProperties !== false) lines.push(`${inner}...`);
    let tail = '';
    if (constraint) {
      const sets = (schema[constraint] as { required: string[] }[]).map((x) => x.required.join(' + '));
      tail = ` (${constraint === 'oneOf' ? 'exactly one of' : 'at least one of'}: ${sets.join(', ')})`;
    }
    return `{\n${lines.join('\n')}\n${indent}}${nullable}${tail}`;
  }
  return scalar(schema);
}

function OperationView({ doc, op }: { doc: OpenApiDoc; op: Operation }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="op" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>
        <span className={'method m-' + op.method.toLowerCase()}>{op.method}</span> <code className="path">{op.path}</code>{' '}
        <span className="muted">{op.summary}</span>
        {op.public ? <span className="badge">public</span> : null}
      </summary>
      {open ? (
        <div className="op-body">
          {op.description ? <p>{op.description}</p> : null}
          {op.operationId ? <p className="muted">operationId <code>{op.operationId}</code></p> : null}
          {op.parameters.length ? (
            <>
              <h4>Parameters</h4>
              <div className="table-wrap">
                <table>
                  <thead><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr></thead>
                  <tbody>
                    {op.parameters.map((p) => (
                      <tr key={p.in + p.name}>
                        <td><code>{p.name}</code>{p.required ? ' (required)' : ''}</td>
                        <td>{p.in}</td>
                        <td><code>{schemaText(doc, p.schema).replace(/\s+/g, ' ')}</code></td>
                        <td>{p.description}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          ) : null}
          {op.requestBody ? (
            <>
              <h4>Request body{op.requestBody.required ? ' (required)' : ''}</h4>
              {op.requestBody.description ? <p>{op.requestBody.description}</p> : null}
              {op.requestBody.bodies.map((b) => (
                <div key={b.contentType}>
                  <p className="muted">{b.contentType}</p>
                  <pre className="schema">{schemaText(doc, b.schema)}</pre>
                </div>
              ))}
            </>
          ) : null}
          <h4>Responses</h4>
          <ul className="responses">
            {op.responses.map((r) => (
              <li key={r.status}>
                <strong>{r.status}</strong> {r.description}
                {r.bodies.map((b) => (
                  <div key={b.contentType}>
                    <p className="muted">{b.contentType}</p>
                    {b.schema !== undefined ? <pre className="schema">{schemaText(doc, b.schema)}</pre> : null}
                  </div>
                ))}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </details>
  );
}

export function ApiReference({ api }: { api: Api }) {
  const [doc, setDoc] = useState<OpenApiDoc | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    let live = true;
    api.get<OpenApiDoc>('/api/v1/openapi.json').then(
      (d) => { if (live) setDoc(d); },
      (e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setMissing(true);
        else setError(e);
      },
    );
    return () => { live = false; };
  }, [api]);
  if (missing) {
    return (
      <>
        <h1>API reference</h1>
        <p className="notice">This server publishes no OpenAPI document (<code>GET /api/v1/openapi.json</code> answered 404).</p>
      </>
    );
  }
  const groups = doc ? groupByTag(doc) : [];
  return (
    <>
      <h1>API reference</h1>
      <ErrorBox error={error} />
      {!doc ? (error ? null : <p>Loading…</p>) : (
        <>
          <p className="muted">
            {doc.info?.title} {doc.info?.version}, from the server's own document:{' '}
            <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Open an operation for its parameters and schemas.
          </p>
          {groups.map((g) => (
            <section key={g.tag} aria-labelledby={'tag-' + g.tag}>
              <h2 id={'tag-' + g.tag}>{g.tag}</h2>
              {g.description ? <p>{g.description}</p> : null}
              {g.operations.map((op) => <OperationView key={op.method + op.path} doc={doc} op={op} />)}
            </section>
          ))}
        </>
      )}
    </>
  );
}
