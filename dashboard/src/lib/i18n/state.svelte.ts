// The interface's language as reactive state: every `t()` read in a template or a `$derived`
// re-runs when the viewer switches language, without reloading the page.
export const locale = $state<{ lang: 'fr' | 'en' }>({ lang: 'fr' });
