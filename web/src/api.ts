// The dashboard's only way to the server: fetch() with the X-API-Key header.
// The key lives in sessionStorage (gone when the tab closes), never in a URL.

export const KEY_STORAGE = 'yesapp.apiKey';

export class ApiError extends Error {
  status: number;
  code: string;
  details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface Session {
  id: string;
  name: string;
  status: string;
  reason: string | null;
  phone: string | null;
  pushName: string | null;
  deviceJid: string | null;
  qrCode: string | null;
  confirmationCode?: string | null;
  webhook: Webhook | null;
  createdAt: string;
  updatedAt: string;
  connectedAt: string | null;
  lastSeenAt: string | null;
}

export interface Message {
  id: string;
  sessionId: string;
  direction: 'inbound' | 'outbound';
  from: string | null;
  to: string | null;
  chat: string | null;
  type: string;
  text: string | null;
  status: string;
  reason: string | null;
  timestamp: string | null;
  createdAt: string;
}

export interface Chat {
  chat: string;
  phone: string | null;
  name: string | null;
  lastMessage: Message | null;
  unread: number;
  lastMessageAt: string | null;
}

export interface Webhook {
  url: string;
  events: string[] | null;
  hasSecret: boolean;
}

export interface Delivery {
  id: number;
  eventId: number;
  event: string;
  url: string;
  statusCode: number;
  success: boolean;
  attempt: number;
  durationMs: number;
  error: string | null;
  createdAt: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface Sandbox {
  enabled: boolean;
}

export type Fetch = typeof fetch;

export class Api {
  key: string;
  private f: Fetch;
  constructor(key: string, f: Fetch = (...a) => fetch(...a)) {
    this.key = key;
    this.f = f;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'X-API-Key': this.key };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await this.f(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'NETWORK_ERROR', `the server did not answer (${(e as Error).message})`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const j = (json ?? {}) as { error?: string; message?: string; details?: unknown };
      throw new ApiError(res.status, j.error ?? 'HTTP_' + res.status, j.message ?? `HTTP ${res.status}`, j.details);
    }
    return json as T;
  }

  get<T>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }
  put<T>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  del(path: string) {
    return this.request<void>('DELETE', path);
  }

  /** The session's current QR as an SVG blob: URL (the image route needs the key header). */
  async qrUrl(id: string): Promise<string | null> {
    const res = await this.f(`/api/v1/sessions/${id}/qr.svg`, { headers: { 'X-API-Key': this.key } });
    if (!res.ok) return null;
    return URL.createObjectURL(await res.blob());
  }

  /** Opens the event stream with fetch() (EventSource cannot send headers). */
  stream(signal: AbortSignal): Promise<Response> {
    return this.f('/api/v1/events/stream', { headers: { 'X-API-Key': this.key, Accept: 'text/event-stream' }, signal });
  }
}

export interface ServerEvent {
  id: string;
  event: string;
  data: { sessionId?: string; status?: string; [k: string]: unknown };
}

/** Splits an SSE byte stream into events; returns what is left unparsed. */
export function parseSse(buf: string, out: ServerEvent[]): string {
  let idx: number;
  buf = buf.replace(/\r\n/g, '\n');
  while ((idx = buf.indexOf('\n\n')) >= 0) {
    const block = buf.slice(0, idx);
    buf = buf.slice(idx + 2);
    let id = '';
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) continue;
    try {
      out.push({ id, event, data: JSON.parse(data.join('\n')) });
    } catch {
      /* a block that is not JSON is not ours: skip it */
    }
  }
  return buf;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '—';
  return d.toLocaleString();
}
