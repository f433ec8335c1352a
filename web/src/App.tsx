import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Api, ApiError, CSRF_STORAGE, KEY_STORAGE, WHO_STORAGE, type Me, type Role, type User } from './api';
import { ErrorBox } from './components';
import { EventsProvider, useLive } from './events';
import { Link, navigate, usePath } from './router';
import { Overview } from './pages/Overview';
import { Sessions } from './pages/Sessions';
import { SessionDetail } from './pages/SessionDetail';
import { Webhooks } from './pages/Webhooks';
import { Logs } from './pages/Logs';
import { ApiReference } from './pages/ApiReference';

// Sign-in modes: an API key (sent as X-API-Key), or email and password
// (POST /api/v1/auth/login: an HTTP-only cookie plus a CSRF token).
type Mode = 'key' | 'password';
const MODES: { id: Mode; label: string }[] = [
  { id: 'key', label: 'API key' },
  { id: 'password', label: 'Email and password' },
];

/** What a failed sign-in says: the API's message; a locked account says so and for how long. */
function signInError(err: unknown): unknown {
  if (err instanceof ApiError && err.code === 'ACCOUNT_LOCKED') {
    const secs = (err.details as { retryAfter?: number } | null)?.retryAfter;
    const when = typeof secs === 'number' ? ` Try again in ${Math.max(1, Math.ceil(secs / 60))} min.` : '';
    return new ApiError(err.status, err.code, `This account is locked after too many wrong passwords (${err.message}).${when}`);
  }
  return err;
}

export function SignIn({ onSignedIn, check, login }: {
  onSignedIn: (key: string) => void;
  check: (key: string) => Promise<void>;
  /** Signs in by email and password; absent: only the key mode is offered. */
  login?: (email: string, password: string) => Promise<void>;
}) {
  const [mode, setMode] = useState<Mode>('key');
  const [key, setKey] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const modes = login ? MODES : MODES.filter((m) => m.id === 'key');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'key') {
        await check(key.trim());
        onSignedIn(key.trim());
      } else if (login) {
        const pw = password;
        setPassword(''); // the password is not kept, not even in the form
        await login(email.trim(), pw);
      }
    } catch (err) {
      setError(signInError(err));
    } finally {
      setBusy(false);
    }
  };
  const ready = mode === 'key' ? !!key.trim() : !!email.trim() && !!password;
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">YesApp</h1>
        {modes.length > 1 && (
          <div role="tablist" aria-label="Sign in with">
            {modes.map((m) => (
              <button key={m.id} type="button" role="tab" aria-selected={mode === m.id}
                onClick={() => { setMode(m.id); setError(null); }}>{m.label}</button>
            ))}
          </div>
        )}
        {mode === 'key' && (
          <>
            <label htmlFor="apikey">API key</label>
            <input id="apikey" name="apikey" type="password" autoComplete="off" required autoFocus
              value={key} onChange={(e) => setKey(e.target.value)} />
            <p className="hint">Printed once at the server's first start, or made with <code>yesapp keys create</code>. Kept in this tab only.</p>
          </>
        )}
        {mode === 'password' && (
          <>
            <label htmlFor="email">Email</label>
            <input id="email" name="email" type="email" autoComplete="username" required autoFocus
              value={email} onChange={(e) => setEmail(e.target.value)} />
            <label htmlFor="password">Password</label>
            <input id="password" name="password" type="password" autoComplete="current-password" required
              value={password} onChange={(e) => setPassword(e.target.value)} />
            <p className="hint">A user made with <code>yesapp users create</code>. The session is an HTTP-only cookie (12 h); the password is not stored.</p>
          </>
        )}
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy || !ready}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/sessions', label: 'Sessions' },
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/logs', label: 'Logs' },
  { href: '/api-reference', label: 'API reference' },
];

function LiveIndicator() {
  const mode = useLive(() => {});
  return <span className={'live ' + mode} title="How the page stays up to date">{mode === 'stream' ? 'live' : mode === 'polling' ? 'polling' : '…'}</span>;
}

function Shell({ api, who, onSignOut }: { api: Api; who: string; onSignOut: () => void }) {
  const path = usePath();
  let page;
  const m = path.match(/^\/sessions\/([0-9a-f-]{36})$/);
  if (m) page = <SessionDetail api={api} id={m[1]} />;
  else if (path === '/sessions') page = <Sessions api={api} />;
  else if (path === '/webhooks') page = <Webhooks api={api} />;
  else if (path === '/logs') page = <Logs api={api} />;
  else if (path === '/api-reference') page = <ApiReference api={api} />;
  else if (path === '/') page = <Overview api={api} />;
  else page = <p>No such page. <Link href="/">Go to the overview</Link>.</p>;
  const current = (href: string) => (href === '/' ? path === '/' : path.startsWith(href));
  return (
    <EventsProvider api={api}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">YesApp</span>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} aria-current={current(n.href) ? 'page' : undefined}>{n.label}</Link>
          ))}
        </nav>
        <LiveIndicator />
        <span className="who" data-role={api.role}>{who} <span className="badge info">{api.role}</span></span>
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </EventsProvider>
  );
}

interface Auth {
  key: string; // '' when signed in by cookie
  csrf: string | null;
  who: string;
  role: Role;
}

function loadAuth(): Auth | null {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const csrf = sessionStorage.getItem(CSRF_STORAGE);
  if (!key && !csrf) return null;
  let w: { who?: string; role?: Role } = {};
  try {
    w = JSON.parse(sessionStorage.getItem(WHO_STORAGE) ?? '{}');
  } catch {
    w = {};
  }
  return { key: key ?? '', csrf: key ? null : csrf, who: w.who ?? (key ? 'API key' : 'user'), role: w.role ?? 'viewer' };
}

function saveAuth(a: Auth | null) {
  sessionStorage.removeItem(KEY_STORAGE);
  sessionStorage.removeItem(CSRF_STORAGE);
  sessionStorage.removeItem(WHO_STORAGE);
  if (!a) return;
  if (a.key) sessionStorage.setItem(KEY_STORAGE, a.key);
  else if (a.csrf) sessionStorage.setItem(CSRF_STORAGE, a.csrf);
  sessionStorage.setItem(WHO_STORAGE, JSON.stringify({ who: a.who, role: a.role }));
}

export function App() {
  const [auth, setAuthState] = useState<Auth | null>(loadAuth);
  const setAuth = (a: Auth | null) => { saveAuth(a); setAuthState(a); };
  const api = useMemo(() => (auth ? new Api(auth.key, undefined, auth.csrf, auth.role) : null), [auth]);
  // who am I, by the server: the role (and the cookie's CSRF token) after a reload
  useEffect(() => {
    if (!api) return;
    let live = true;
    api.get<Me>('/api/v1/auth/me').then((me) => {
      if (!live || !auth) return;
      const csrf = auth.key ? null : me.csrfToken ?? auth.csrf;
      if (me.role !== auth.role || csrf !== auth.csrf) setAuth({ ...auth, role: me.role, csrf });
    }, (e) => {
      if (live && e instanceof ApiError && e.status === 401) setAuth(null);
    });
    return () => { live = false; };
  }, [api]);
  const check = async (k: string) => {
    const a = new Api(k);
    await a.get('/api/v1/sessions?limit=1');
  };
  const signInWithKey = async (k: string) => {
    let role: Role = 'admin';
    try {
      role = (await new Api(k).get<Me>('/api/v1/auth/me')).role;
    } catch {
      /* a server without /auth/me: every key is admin there */
    }
    setAuth({ key: k, csrf: null, who: 'API key', role });
  };
  const login = async (email: string, password: string) => {
    const r = await new Api('').post<{ user: User; csrfToken: string }>('/api/v1/auth/login', { email, password });
    setAuth({ key: '', csrf: r.csrfToken, who: r.user.displayName || r.user.email, role: r.user.role });
  };
  const signOut = async () => {
    if (api && !api.key) {
      try {
        await api.post('/api/v1/auth/logout');
      } catch {
        /* the cookie may have ended already; forget it here either way */
      }
    }
    setAuth(null);
    navigate('/');
  };
  if (!api || !auth)
    return <SignIn check={check} login={login} onSignedIn={(k) => { void signInWithKey(k); }} />;
  return <Shell api={api} who={auth.who} onSignOut={() => { void signOut(); }} />;
}

export { ApiError };
