// The dashboard's only way to the server: fetch() with the X-API-Key header,
// or (signed in by email and password) the HTTP-only session cookie plus the
// X-CSRF-Token header on every state-changing request. The key or the CSRF
// token lives in sessionStorage (gone when the tab closes), never in a URL;
// the password is never stored.

export const KEY_STORAGE = 'yesapp.apiKey';
export const CSRF_STORAGE = 'yesapp.csrf';
export const WHO_STORAGE = 'yesapp.who';

export type Role = 'viewer' | 'operator' | 'admin';
const ROLE_RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };

/** GET /api/v1/auth/me */
export interface Me {
  kind: 'user' | 'key';
  id: string;
  role: Role;
  scoped: boolean;
  csrfToken?: string;
  /** the server's MAX_BODY_BYTES (a server before it does not say) */
  maxBodyBytes?: number;
}

export interface User {
  id: string;
  email: string;
  displayName: string | null;
  role: Role;
}

export interface MediaInfo {
  kind: string;
  mimetype: string;
  size?: number;
  fileName?: string;
  caption?: string;
  seconds?: number;
  width?: number;
  height?: number;
  ptt?: boolean;
}

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
  content?: { media?: MediaInfo; mediaUrl?: string; [k: string]: unknown } | null;
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
  /** The API key, or '' when signed in by cookie. */
  key: string;
  /** The cookie sign-in's CSRF token (null with a key). */
  csrf: string | null;
  /** The caller's role as GET /api/v1/auth/me tells it (the server decides; this only hides buttons). */
  role: Role;
  private f: Fetch;
  constructor(key: string, f: Fetch = (...a) => fetch(...a), csrf: string | null = null, role: Role = 'admin') {
    this.key = key;
    this.f = f;
    this.csrf = csrf;
    this.role = role;
  }

  /** Whether the role may do what needs `least` (hides what it may not; the server still checks). */
  can(least: Role): boolean {
    return (ROLE_RANK[this.role] ?? 0) >= ROLE_RANK[least];
  }

  /** The credential headers for a request of `method`. */
  authHeaders(method = 'GET'): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.key) h['X-API-Key'] = this.key;
    else if (this.csrf && !['GET', 'HEAD', 'OPTIONS'].includes(method)) h['X-CSRF-Token'] = this.csrf;
    return h;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = this.authHeaders(method);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await this.f(path, {
        method,
        headers,
        credentials: 'same-origin',
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
    const res = await this.f(`/api/v1/sessions/${id}/qr.svg`, { headers: this.authHeaders(), credentials: 'same-origin' });
    if (!res.ok) return null;
    return URL.createObjectURL(await res.blob());
  }

  /** A received media file as a blob: URL (an <img src> to the API would carry neither the key
   * header nor, for a viewer of another origin, anything); throws the API's error (e.g. 404
   * MEDIA_NOT_FOUND with details.state/reason). The caller revokes the URL. */
  async mediaBlobUrl(path: string): Promise<string> {
    let res: Response;
    try {
      res = await this.f(path, { headers: this.authHeaders(), credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, 'NETWORK_ERROR', `the server did not answer (${(e as Error).message})`);
    }
    if (!res.ok) {
      let j: { error?: string; message?: string; details?: unknown } = {};
      try {
        j = JSON.parse(await res.text());
      } catch {
        j = {};
      }
      throw new ApiError(res.status, j.error ?? 'HTTP_' + res.status, j.message ?? `HTTP ${res.status}`, j.details);
    }
    return URL.createObjectURL(await res.blob());
  }

  /** Opens the event stream with fetch() (EventSource cannot send headers). */
  stream(signal: AbortSignal): Promise<Response> {
    return this.f('/api/v1/events/stream', { headers: { ...this.authHeaders(), Accept: 'text/event-stream' }, credentials: 'same-origin', signal });
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
