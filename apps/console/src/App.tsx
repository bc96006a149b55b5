import { Suspense, lazy, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, session, type Me } from './api';
import { ErrorText } from './components';
import { Runs } from './Runs';

// The runs list is in the first chunk; the other pages load when first shown (their code, the
// graph, the timeline, the replay and the inbox's form, is not parsed on the way to the list).
const pages = {
  run: () => import('./RunPage').then((m) => ({ default: m.RunPage })),
  replay: () => import('./Replay').then((m) => ({ default: m.Replay })),
  inbox: () => import('./inbox/InboxPage').then((m) => ({ default: m.InboxPage })),
};
const RunPage = lazy(pages.run);
const Replay = lazy(pages.replay);
const InboxPage = lazy(pages.inbox);

type Route =
  { page: 'runs' } | { page: 'run'; runId: string } | { page: 'inbox' } | { page: 'replay'; runId: string };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1]) return { page: 'run', runId: parts[1] };
  if (parts[0] === 'replay' && parts[1]) return { page: 'replay', runId: parts[1] };
  if (parts[0] === 'inbox') return { page: 'inbox' };
  return { page: 'runs' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** The page a load opens on starts loading at once, alongside the check of the token. */
const opening = parseRoute(location.hash).page;
if (opening !== 'runs') void pages[opening]().catch(() => undefined);

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => Boolean(session.token));
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!session.token) return;
    api((parley) => parley.me())
      .then(setMe)
      .catch((e: ApiError) => {
        session.clear();
        setError(e.message);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const titles = { runs: 'Runs', run: 'Run', inbox: 'Inbox', replay: 'Replay' };
    document.title = `${titles[route.page]} · Parley console`;
  }, [route.page]);

  const signIn = async (token: string): Promise<void> => {
    setError(null);
    try {
      const who = await api((parley) => parley.me(), token);
      session.set(token);
      setMe(who);
    } catch (e) {
      setError(
        (e as ApiError).code === 'AUTH.INVALID_TOKEN'
          ? 'That token is not valid. Check it and try again.'
          : (e as Error).message,
      );
    }
  };
  const signOut = (): void => {
    session.clear();
    setMe(null);
  };

  if (checking) return <p className="loading">Loading…</p>;
  if (!me) return <SignIn onSignIn={signIn} error={error} />;

  const current = route.page === 'run' || route.page === 'replay' ? 'runs' : route.page;
  return (
    <>
      <header className="top">
        <a className="brand" href="#/runs">
          Parley
        </a>
        <nav aria-label="Main">
          <ul>
            <li>
              <a href="#/runs" aria-current={current === 'runs' ? 'page' : undefined}>
                Runs
              </a>
            </li>
            <li>
              <a href="#/inbox" aria-current={current === 'inbox' ? 'page' : undefined}>
                Inbox
              </a>
            </li>
          </ul>
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{me.id}</strong> ({me.roles.join(', ')})
          </span>
          <button type="button" className="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Suspense fallback={<p className="loading">Loading…</p>}>
          {route.page === 'runs' && <Runs me={me} />}
          {route.page === 'run' && <RunPage key={route.runId} runId={route.runId} me={me} />}
          {route.page === 'inbox' && <InboxPage me={me} />}
          {route.page === 'replay' && <Replay key={route.runId} runId={route.runId} me={me} />}
        </Suspense>
      </main>
    </>
  );
}

function SignIn({ onSignIn, error }: { onSignIn: (token: string) => Promise<void>; error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    await onSignIn(token.trim());
    setBusy(false);
  };
  return (
    <main id="main" className="signin">
      <h1>Parley console</h1>
      <form onSubmit={submit} className="card">
        <p>Sign in with your API token. It stays in this browser tab only (session storage).</p>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
        />
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
