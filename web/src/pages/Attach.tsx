// Sending a file from the conversation: the JSON send (POST /api/v1/sessions/{id}/messages with
// {image|video|audio|document: {base64, mimetype?, filename?}, caption?, ptt?}). The whole body
// must fit the server's MAX_BODY_BYTES (GET /api/v1/auth/me's maxBodyBytes) and the file
// WhatsApp's size for its kind: both are checked here before reading the file, and the server
// checks again (413 with its message, shown like every API error).

export type SendKind = 'image' | 'video' | 'audio' | 'document';
export const SEND_KINDS: SendKind[] = ['image', 'video', 'audio', 'document'];

const MiB = 1048576;
/** WhatsApp's size for each kind (docs/media.md, the server's 413 MEDIA_TOO_LARGE). */
export const KIND_MAX: Record<SendKind, number> = { image: 16 * MiB, video: 100 * MiB, audio: 16 * MiB, document: 2000 * MiB };

export function kindOf(mime: string): SendKind {
  if (mime.startsWith('image/') && mime !== 'image/svg+xml') return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  return 'document';
}

export function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < MiB ? `${(n / 1024).toFixed(1)} KiB` : `${(n / MiB).toFixed(1)} MiB`;
}

export interface SendFile {
  kind: SendKind;
  name: string;
  type: string;
  size: number;
  caption: string;
  ptt: boolean;
}

/** The request body with the file's base64 in it. */
export function mediaBody(to: string, f: SendFile, base64: string): Record<string, unknown> {
  const media: Record<string, string> = { base64 };
  if (f.type) media.mimetype = f.type;
  if (f.kind === 'document') media.filename = f.name.replace(/[/\\]/g, '_');
  const body: Record<string, unknown> = { to, [f.kind]: media };
  if (f.caption && f.kind !== 'audio') body.caption = f.caption;
  if (f.kind === 'audio' && f.ptt) body.ptt = true;
  return body;
}

/** The body's size in bytes once the file (size bytes) is in it as base64. */
export function bodyBytes(to: string, f: SendFile): number {
  const empty = new TextEncoder().encode(JSON.stringify(mediaBody(to, f, ''))).length;
  return empty + 4 * Math.ceil(f.size / 3);
}

/** Why f cannot be sent (a sentence for the user), or null. maxBody: the server's
 * MAX_BODY_BYTES, null when the server does not say (then only WhatsApp's size is checked). */
export function tooLarge(to: string, f: SendFile, maxBody: number | null): string | null {
  if (f.size === 0) return `${f.name} is empty.`;
  if (f.size > KIND_MAX[f.kind])
    return `${f.name} is ${fmtBytes(f.size)}; WhatsApp takes at most ${fmtBytes(KIND_MAX[f.kind])} for ${f.kind === 'image' ? 'an' : 'a'} ${f.kind}.`;
  if (maxBody !== null) {
    const need = bodyBytes(to, f);
    if (need > maxBody) {
      const room = Math.max(0, Math.floor((maxBody - (need - 4 * Math.ceil(f.size / 3))) / 4) * 3);
      return `${f.name} is ${fmtBytes(f.size)}; this server takes files up to about ${fmtBytes(room)} from here ` +
        `(its MAX_BODY_BYTES is ${fmtBytes(maxBody)}, and base64 makes the request 4/3 of the file).`;
    }
  }
  return null;
}

/** The file's bytes as standard base64 (RFC 4648 §4), without reading it as text. */
export function readBase64(file: Blob): Promise<string> {
  return new Promise((res, rej) => {
    const r = new FileReader();
    r.onerror = () => rej(new Error(`the file could not be read (${r.error?.message ?? 'unknown error'})`));
    r.onload = () => {
      const s = String(r.result);
      res(s.slice(s.indexOf(',') + 1));
    };
    r.readAsDataURL(file);
  });
}
