import { describe, expect, it } from 'vitest';
import { DoubleTapDetector, tapZone } from './touch';

describe('tapZone', () => {
	it('splits the picture in thirds', () => {
		expect(tapZone(10, 390)).toBe('left');
		expect(tapZone(195, 390)).toBe('centre');
		expect(tapZone(380, 390)).toBe('right');
		expect(tapZone(10, 0)).toBe('centre');
	});
});

describe('DoubleTapDetector', () => {
	it('reports two quick taps on the same side', () => {
		const taps = new DoubleTapDetector(300);
		expect(taps.tap('right', 1000)).toBeNull();
		expect(taps.tap('right', 1200)).toBe('right');
	});

	it('keeps counting while the taps keep coming (three taps seek twice)', () => {
		const taps = new DoubleTapDetector(300);
		taps.tap('left', 0);
		expect(taps.tap('left', 200)).toBe('left');
		expect(taps.tap('left', 400)).toBe('left');
	});

	it('ignores slow taps, taps on different sides and the middle', () => {
		const taps = new DoubleTapDetector(300);
		taps.tap('right', 0);
		expect(taps.tap('right', 500)).toBeNull();
		expect(taps.tap('left', 600)).toBeNull();
		expect(taps.tap('centre', 650)).toBeNull();
		expect(taps.tap('centre', 700)).toBeNull();
	});
});
