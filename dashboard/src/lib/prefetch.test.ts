import { describe, expect, it, vi } from 'vitest';
import { Prefetch } from './prefetch';

describe('Prefetch', () => {
	it('hands the prefetched value over once, without loading again', async () => {
		const prefetch = new Prefetch<string>();
		const early = vi.fn().mockResolvedValue('episode 2');
		prefetch.start('e2', early);
		prefetch.start('e2', early);

		const load = vi.fn().mockResolvedValue('fresh');
		expect(await prefetch.take('e2', load)).toBe('episode 2');
		expect(early).toHaveBeenCalledOnce();
		expect(load).not.toHaveBeenCalled();

		expect(await prefetch.take('e2', load)).toBe('fresh');
	});

	it('loads afresh for another title, or when the prefetch failed', async () => {
		const prefetch = new Prefetch<string>();
		prefetch.start('e2', () => Promise.resolve('episode 2'));
		expect(await prefetch.take('e5', () => Promise.resolve('episode 5'))).toBe('episode 5');

		prefetch.start('e2', () => Promise.reject(new Error('offline')));
		expect(await prefetch.take('e2', () => Promise.resolve('retried'))).toBe('retried');
	});
});
