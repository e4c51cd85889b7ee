import { describe, expect, it } from 'vitest';
import { pictureRect } from './picture';

describe('pictureRect', () => {
	it('a portrait phone video in a landscape window is a centred column', () => {
		expect(pictureRect({ width: 1280, height: 800 }, { width: 360, height: 640 })).toEqual({
			left: 415,
			top: 0,
			width: 450,
			height: 800
		});
	});

	it('a film on a phone held upright is a band across the middle', () => {
		expect(pictureRect({ width: 390, height: 844 }, { width: 1920, height: 1080 })).toEqual({
			left: 0,
			top: 312.3125,
			width: 390,
			height: 219.375
		});
	});

	it('a picture of the window\'s shape fills it', () => {
		expect(pictureRect({ width: 1280, height: 720 }, { width: 640, height: 360 })).toEqual({
			left: 0,
			top: 0,
			width: 1280,
			height: 720
		});
	});

	it('the whole element while the picture size is unknown', () => {
		const whole = { left: 0, top: 0, width: 1280, height: 800 };
		expect(pictureRect({ width: 1280, height: 800 }, { width: 0, height: 0 })).toEqual(whole);
		expect(pictureRect({ width: 1280, height: 800 }, { width: NaN, height: 360 })).toEqual(whole);
		expect(pictureRect({ width: 0, height: 0 }, { width: 640, height: 360 })).toEqual({ left: 0, top: 0, width: 0, height: 0 });
	});
});
