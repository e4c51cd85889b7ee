import { describe, expect, it } from 'vitest';
import { isTyping, numericId } from './search-box';

describe('numericId', () => {
	it('reads a TMDB id, and nothing else', () => {
		expect(numericId(' 603 ')).toBe(603);
		expect(numericId('0')).toBeNull();
		expect(numericId('603a')).toBeNull();
		expect(numericId('matrix')).toBeNull();
		expect(numericId('1234567890')).toBeNull();
	});
});

describe('isTyping', () => {
	it('is true in text fields, false on buttons, sliders and the page', () => {
		const text = document.createElement('input');
		const range = Object.assign(document.createElement('input'), { type: 'range' });
		expect(isTyping(text)).toBe(true);
		expect(isTyping(document.createElement('textarea'))).toBe(true);
		expect(isTyping(range)).toBe(false);
		expect(isTyping(document.createElement('button'))).toBe(false);
		expect(isTyping(document.body)).toBe(false);
		expect(isTyping(null)).toBe(false);
	});
});
