/** Small building blocks every page shares: labelled fields with their errors, notices, guards. */
import { useEffect, useId, useRef, type InputHTMLAttributes, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation } from 'react-router';
import { isApiError, type FieldError } from './api/client';
import { useMe } from './api/hooks';

/** A labelled input; help and error text are tied to it with aria-describedby. */
export function Field(props: { label: string; help?: string; error?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const { label, help, error, ...input } = props;
  const id = useId();
  const describedBy = [help ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {help && (
        <p className="help" id={`${id}-help`}>
          {help}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A labelled select; its error text is tied to it with aria-describedby. */
export function Select(props: { label: string; value: string; onChange: (v: string) => void; error?: string; children: ReactNode; name: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.target.value)} aria-invalid={props.error ? true : undefined} aria-describedby={props.error ? `${id}-error` : undefined}>
        {props.children}
      </select>
      {props.error && (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** Radio buttons in a fieldset: its legend names the choice, its error is tied to the group. */
export function ChoiceGroup<V extends string>(props: { legend: string; name: string; value: V; options: ReadonlyArray<{ value: V; label: string }>; onChange: (v: V) => void; error?: string }) {
  const id = useId();
  return (
    <fieldset aria-describedby={props.error ? `${id}-error` : undefined}>
      <legend>{props.legend}</legend>
      {props.options.map((o) => (
        <label key={o.value} className="check">
          <input type="radio" name={props.name} value={o.value} checked={props.value === o.value} onChange={() => props.onChange(o.value)} />
          {o.label}
        </label>
      ))}
      {props.error && (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </fieldset>
  );
}

/**
 * The API's field errors keyed by the form field they belong to (`software[1]` → `software`), or
 * `exact`: by the API's own field path (`members[2].requires[0]`).
 */
export function fieldErrors(err: unknown, opts: { exact?: boolean } = {}): Record<string, string> {
  if (!isApiError(err)) return {};
  const out: Record<string, string> = {};
  for (const f of err.fields as FieldError[]) {
    const key = opts.exact ? f.field : f.field.replace(/\[\d+\].*$/, '').replace(/^(backup)\..*$/, '$1');
    out[key] = out[key] ? `${out[key]} ${f.message}` : f.message;
  }
  return out;
}

/** A 409's code in words when the console knows it (`<prefix>.<code>`), else undefined (the API's message is shown). */
export function conflictText(t: ReturnType<typeof useTranslation>['t'], err: unknown, prefix: string, codes: readonly string[]): string | undefined {
  return isApiError(err, 409) && codes.includes(err.code) ? t(`${prefix}.${err.code}`) : undefined;
}

/** An error the member should read: the API's message and its request id. */
export function ErrorNotice({ error, children }: { error: unknown; children?: ReactNode }) {
  const { t } = useTranslation();
  if (!error) return null;
  const message = children ?? (error instanceof Error ? error.message : String(error));
  return (
    <div className="notice notice-error" role="alert">
      <p>{message}</p>
      {isApiError(error) && error.requestId && <p className="muted">{t('app.requestId', { id: error.requestId })}</p>}
    </div>
  );
}

/**
 * A table's box that scrolls sideways at phone width. It can take the keyboard focus (and is a
 * named region) so a table without links or buttons can still be scrolled from the keyboard.
 */
export function ScrollBox({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <p role="status" className="muted">
      {t('app.loading')}
    </p>
  );
}

/** Pages for members only: a visitor without a session goes to the log-in page. */
export function RequireSession({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();
  // While the session is being checked the page is already mounted, hidden, so its own reads go
  // out beside the check instead of after it (a visitor without a session is sent away either way).
  if (me.isPending)
    return (
      <>
        <Loading />
        <div hidden>{children}</div>
      </>
    );
  if (me.error) return <ErrorNotice error={me.error} />;
  if (!me.data) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

/** A page's main heading, focused on arrival so screen readers announce the new page. */
export function PageTitle({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  useEffect(() => {
    document.title = `${title} · vmflow`;
  }, [title]);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}
