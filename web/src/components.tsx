import { useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api';

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as ApiError;
  return (
    <div className="error" role="alert">
      {e.message || String(error)}
      {e.code && e.code !== 'NETWORK_ERROR' ? <span className="code"> ({e.code})</span> : null}
    </div>
  );
}

const STATUS_CLASS: Record<string, string> = {
  connected: 'ok',
  delivered: 'ok',
  read: 'ok',
  sent: 'info',
  received: 'info',
  qr: 'warn',
  pending: 'warn',
  connecting: 'warn',
  passkey_required: 'warn',
  disconnected: 'warn',
  failed: 'bad',
  logged_out: 'bad',
};

export function Badge({ status }: { status: string }) {
  return <span className={'badge ' + (STATUS_CLASS[status] ?? 'info')}>{status.replace('_', ' ')}</span>;
}

/** A button that asks before doing something that cannot be undone. */
export function ConfirmButton({ label, question, onConfirm, danger }: {
  label: string; question: string; onConfirm: () => void; danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return <button type="button" className={danger ? 'danger' : ''} onClick={() => setAsking(true)}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" className="danger" autoFocus onClick={() => { setAsking(false); onConfirm(); }}>Yes, {label.toLowerCase()}</button>
      <button type="button" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}

export function Card({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header><h2>{title}</h2>{actions}</header>
      {children}
    </section>
  );
}

/** A QR code drawn from the server's SVG (fetched with the key, shown as a blob: URL). */
export function QrImage({ load, version }: { load: () => Promise<string | null>; version: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let made: string | null = null;
    load().then((u) => {
      made = u;
      if (alive) setUrl(u);
      else if (u) URL.revokeObjectURL(u);
    }).catch(() => {});
    return () => {
      alive = false;
      if (made) URL.revokeObjectURL(made);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);
  if (!url) return <div className="qr placeholder">Loading QR…</div>;
  return <img className="qr" src={url} alt="QR code: scan it in WhatsApp → Linked devices → Link a device" />;
}

/** A table that scrolls sideways on narrow screens. */
export function DataTable({ cols, children }: { cols: ReactNode[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table>
        <thead><tr>{cols.map((c, i) => <th key={i} scope="col">{c}</th>)}</tr></thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
