import { describe, expect, it } from 'vitest';
import { searchLibrary, tmdbIdOf } from './search';

const items = [
	{ title: 'Le Fabuleux Destin d’Amélie Poulain' },
	{ title: 'Amélie et la métaphysique des tubes' },
	{ title: 'The Matrix' },
	{ title: 'Matrix Reloaded' }
];

describe('searchLibrary', () => {
	it('ignores accents and case, and wants every word', () => {
		expect(searchLibrary(items, 'amelie').map((i) => i.title)).toEqual([
			'Amélie et la métaphysique des tubes',
			'Le Fabuleux Destin d’Amélie Poulain'
		]);
		expect(searchLibrary(items, 'MATRIX rel').map((i) => i.title)).toEqual(['Matrix Reloaded']);
	});

	it('puts titles that start with the query first, and finds nothing for nothing', () => {
		expect(searchLibrary(items, 'matrix').map((i) => i.title)).toEqual(['Matrix Reloaded', 'The Matrix']);
		expect(searchLibrary(items, '  ')).toEqual([]);
		expect(searchLibrary(items, 'zzz')).toEqual([]);
	});
});

describe('tmdbIdOf', () => {
	it('reads a TMDB id, nothing else', () => {
		expect(tmdbIdOf(' 603 ')).toBe(603);
		expect(tmdbIdOf('0')).toBeNull();
		expect(tmdbIdOf('603a')).toBeNull();
	});
});
