import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { isApiError } from './api/client';
import { meQuery, vmsQuery } from './api/hooks';
import { App } from './App';
import { i18nReady } from './i18n';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not get better by asking again; network trouble and 5xx may.
      retry: (count, err) => count < 2 && !(isApiError(err) && err.status >= 400 && err.status < 500),
      refetchOnWindowFocus: true,
    },
  },
});

// Who is signed in (every page waits for it) and, on My VMs where a member lands, the list are
// asked for now, while the language loads and React starts, instead of after the first render (a
// visitor without a session gets a 401, kept as an error the page asks again about once it is shown).
void queryClient.prefetchQuery(meQuery);
if (window.location.pathname === '/') void queryClient.prefetchQuery(vmsQuery);

void i18nReady.then(() => {
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </StrictMode>,
  );
});
