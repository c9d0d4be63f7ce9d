/**
 * One message catalogue per language (en.ts, ko.ts) through i18next. The language is the one the
 * member chose (kept in localStorage), else the browser's first language we have, else English.
 * Dates, numbers and durations are formatted with Intl for the current language.
 */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from './en';
import { ko } from './ko';

export const LANGUAGES = { en: 'English', ko: '한국어' } as const;
export type Language = keyof typeof LANGUAGES;
const STORAGE_KEY = 'vmflow.language';

function isLanguage(v: string | null | undefined): v is Language {
  return !!v && Object.hasOwn(LANGUAGES, v);
}

export function detectLanguage(): Language {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage may be unavailable (private mode): the browser's language decides
  }
  if (isLanguage(stored)) return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLanguage(base)) return base;
  }
  return 'en';
}

export async function setLanguage(lang: Language): Promise<void> {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not kept; the choice still holds for this page
  }
  await i18n.changeLanguage(lang);
}

i18n.on('languageChanged', (lng) => {
  document.documentElement.lang = lng;
});

export const i18nReady = i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, ko: { translation: ko } },
  lng: detectLanguage(),
  fallbackLng: 'en',
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
});

export function currentLanguage(): Language {
  return isLanguage(i18n.language) ? i18n.language : 'en';
}

/**
 * Intl formatters are costly to build (a list of 500 rows would build a thousand): one per
 * language and style, kept.
 */
const formatters = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();
function dateFormat(style: 'medium' | 'short'): Intl.DateTimeFormat {
  const key = `d:${currentLanguage()}:${style}`;
  let f = formatters.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) formatters.set(key, (f = new Intl.DateTimeFormat(currentLanguage(), { dateStyle: style, timeStyle: style })));
  return f;
}
function unitFormat(u: 'second' | 'minute' | 'hour' | 'day'): Intl.NumberFormat {
  const key = `u:${currentLanguage()}:${u}`;
  let f = formatters.get(key) as Intl.NumberFormat | undefined;
  if (!f) formatters.set(key, (f = new Intl.NumberFormat(currentLanguage(), { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: 0 })));
  return f;
}

export function formatDateTime(iso: string | undefined): string {
  if (!iso) return '—';
  return dateFormat('medium').format(new Date(iso));
}

/** A date and time in the short style of the current language ("12/4/26, 4:05 PM"). */
export function formatShortDateTime(iso: string): string {
  return dateFormat('short').format(new Date(iso));
}

/** "42 sec", "5 min", "3 hr", "2 days" in the current language. */
export function formatDuration(seconds: number): string {
  const unit = (value: number, u: 'second' | 'minute' | 'hour' | 'day') => unitFormat(u).format(value);
  if (seconds < 90) return unit(Math.max(0, Math.round(seconds)), 'second');
  if (seconds < 90 * 60) return unit(seconds / 60, 'minute');
  if (seconds < 36 * 3600) return unit(seconds / 3600, 'hour');
  return unit(seconds / 86400, 'day');
}

export default i18n;

/** Like formatDuration, with a tenth of a second under 10 s ("0.4 sec", "4.2 sec"): tasks and boots are short. */
export function formatSeconds(seconds: number): string {
  if (seconds >= 10) return formatDuration(seconds);
  return new Intl.NumberFormat(currentLanguage(), { style: 'unit', unit: 'second', unitDisplay: 'short', maximumFractionDigits: 1 }).format(Math.max(0, seconds));
}
