import { useMemo, useState, type FormEvent } from 'react';
import { Api, ApiError, KEY_STORAGE } from './api';
import { ErrorBox } from './components';
import { EventsProvider, useLive } from './events';
import { Link, navigate, usePath } from './router';
import { Overview } from './pages/Overview';
import { Sessions } from './pages/Sessions';
import { SessionDetail } from './pages/SessionDetail';
import { Webhooks } from './pages/Webhooks';
import { Logs } from './pages/Logs';
import { ApiReference } from './pages/ApiReference';

// Sign-in modes: only the API key today; email/password (issue 13) adds a
// second entry here and its own fields.
type Mode = 'key';
const MODES: { id: Mode; label: string }[] = [{ id: 'key', label: 'API key' }];

export function SignIn({ onSignedIn, check }: { onSignedIn: (key: string) => void; check: (key: string) => Promise<void> }) {
  const [mode, setMode] = useState<Mode>('key');
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await check(key.trim());
      onSignedIn(key.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">YesApp</h1>
        {MODES.length > 1 && (
          <div role="tablist">
            {MODES.map((m) => (
              <button key={m.id} type="button" role="tab" aria-selected={mode === m.id} onClick={() => setMode(m.id)}>{m.label}</button>
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
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy || !key.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
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

function Shell({ api, onSignOut }: { api: Api; onSignOut: () => void }) {
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
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </EventsProvider>
  );
}

export function App() {
  const [key, setKey] = useState<string | null>(() => sessionStorage.getItem(KEY_STORAGE));
  const api = useMemo(() => (key ? new Api(key) : null), [key]);
  const check = async (k: string) => {
    const a = new Api(k);
    await a.get('/api/v1/sessions?limit=1');
  };
  if (!api)
    return (
      <SignIn check={check} onSignedIn={(k) => { sessionStorage.setItem(KEY_STORAGE, k); setKey(k); }} />
    );
  return (
    <Shell api={api} onSignOut={() => { sessionStorage.removeItem(KEY_STORAGE); setKey(null); navigate('/'); }} />
  );
}

export { ApiError };
