import { afterEach, describe, expect, it } from 'vitest';
import { fr } from './fr';
import { setMessages, t, tp, type Messages } from './index';

afterEach(() => setMessages(fr, 'fr'));

describe('t', () => {
	it('fills placeholders and leaves unknown ones visible', () => {
		expect(t('player.resumedAt', { time: '12:34' })).toBe('Reprise à 12:34');
		expect(t('player.resumedAt')).toBe('Reprise à {time}');
	});

	it('switches language with another messages module', () => {
		const en = { ...fr, 'title.watch': 'Watch' } as Messages;
		setMessages(en, 'en');
		expect(t('title.watch')).toBe('Watch');
	});
});

describe('tp', () => {
	it('uses French plural rules (0 and 1 are singular)', () => {
		expect(tp('outcome.ok', 0)).toBe('0 source trouvée');
		expect(tp('outcome.ok', 1)).toBe('1 source trouvée');
		expect(tp('outcome.ok', 3)).toBe('3 sources trouvées');
	});
});
