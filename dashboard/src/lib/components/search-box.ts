// The search box's pure parts, tested on their own (search-box.test.ts).

/** Typing fast sends one request per pause, not one per letter. */
export const SEARCH_DEBOUNCE_MS = 150;

/** Whether a key press belongs to a text field (where `/` is a character, not a shortcut). */
export function isTyping(target: EventTarget | null): boolean {
	if (!(target instanceof HTMLElement)) return false;
	if (target.isContentEditable) return true;
	if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
	if (!(target instanceof HTMLInputElement)) return false;
	return !['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'file', 'color'].includes(target.type);
}

/** A query that is a TMDB id (digits only, positive): the title can be opened by its id. */
export function numericId(query: string): number | null {
	const q = query.trim();
	if (!/^\d{1,9}$/.test(q)) return null;
	const id = Number(q);
	return id > 0 ? id : null;
}
