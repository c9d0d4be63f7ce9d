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

export function formatDateTime(iso: string | undefined): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(currentLanguage(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
}

/** "42 sec", "5 min", "3 hr", "2 days" in the current language. */
export function formatDuration(seconds: number): string {
  const lang = currentLanguage();
  const unit = (value: number, u: 'second' | 'minute' | 'hour' | 'day') =>
    new Intl.NumberFormat(lang, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: 0 }).format(value);
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
