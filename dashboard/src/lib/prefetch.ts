// A request started before it is needed (the next episode's resolve while the credits roll),
// handed over once to whoever needs it, so "Épisode suivant" starts at once.
import type { ResolveResponse } from './api/types';

export class Prefetch<T> {
	#entry: { id: string; value: Promise<T> } | null = null;

	/** Starts `load` for `id`, unless it is already under way; the value to come either way. */
	start(id: string, load: () => Promise<T>): Promise<T> {
		if (this.#entry?.id === id) return this.#entry.value;
		const value = load();
		// Unused if the viewer goes elsewhere; a failure is retried by `take`.
		value.catch(() => {});
		this.#entry = { id, value };
		return value;
	}

	/** The value prefetched for `id` (handed over once), else a fresh `load`, also when the prefetch failed. */
	take(id: string, load: () => Promise<T>): Promise<T> {
		const early = this.#entry?.id === id ? this.#entry.value : null;
		this.#entry = null;
		return early ? early.catch(load) : load();
	}
}

/**
 * The watch page's resolves, by `watchHref`: started by its loader while the page's scripts
 * still load (measured: the page asked 55 ms later from its own effect), and by the page for
 * the next episode while the credits roll; taken by the page.
 */
export const watchResolves = new Prefetch<ResolveResponse>();
