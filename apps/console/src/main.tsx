// The entry: send the page's first requests (who am I, the first page of runs), then load the app.
// The app (React, the contracts' schemas, the client) takes a while to evaluate; the answers come
// back meanwhile and the app takes them from prefetch.ts instead of asking again.
import { TOKEN_KEY, prefetchFirstRequests } from './prefetch';
import './styles.css'; // linked from index.html: styled from the first paint

prefetchFirstRequests(location.origin, location.hash, sessionStorage.getItem(TOKEN_KEY));
void import('./start');
