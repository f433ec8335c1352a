import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { Api, parseSse, type ServerEvent } from './api';

// One live event stream for the whole app (the server allows 4 per key). When
// it cannot be had, a 3 s "poll" tick stands in: listeners refetch on both.
export type LiveMode = 'connecting' | 'stream' | 'polling';
export type Listener = (e: ServerEvent | { event: 'poll' }) => void;

export interface Hub {
  mode: LiveMode;
  subscribe(fn: Listener): () => void;
}

// exported for component tests, which drive events by hand
export const HubContext = createContext<Hub>({ mode: 'polling', subscribe: () => () => {} });

export function useLive(fn: Listener) {
  const hub = useContext(HubContext);
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => hub.subscribe((e) => ref.current(e)), [hub]);
  return hub.mode;
}

export function EventsProvider({ api, children }: { api: Api; children: ReactNode }) {
  const [mode, setMode] = useState<LiveMode>('connecting');
  const listeners = useRef(new Set<Listener>());
  const [hub] = useState<Omit<Hub, 'mode'>>(() => ({
    subscribe(fn: Listener) {
      listeners.current.add(fn);
      return () => listeners.current.delete(fn);
    },
  }));

  useEffect(() => {
    const ctl = new AbortController();
    let poll: ReturnType<typeof setInterval> | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const emit = (e: Parameters<Listener>[0]) => listeners.current.forEach((l) => l(e));
    const startPolling = () => {
      setMode('polling');
      if (!poll) poll = setInterval(() => emit({ event: 'poll' }), 3000);
    };
    const connect = async () => {
      try {
        const res = await api.stream(ctl.signal);
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        if (poll) clearInterval(poll);
        poll = undefined;
        setMode('stream');
        emit({ event: 'poll' }); // catch up on what happened before the stream
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const evs: ServerEvent[] = [];
          buf = parseSse(buf + value, evs);
          evs.forEach(emit);
        }
        throw new Error('stream ended');
      } catch {
        if (ctl.signal.aborted) return;
        startPolling();
        retry = setTimeout(connect, 15000); // try the stream again now and then
      }
    };
    connect();
    return () => {
      ctl.abort();
      if (poll) clearInterval(poll);
      if (retry) clearTimeout(retry);
    };
  }, [api]);

  return <HubContext.Provider value={{ ...hub, mode }}>{children}</HubContext.Provider>;
}
