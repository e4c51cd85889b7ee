// One distinct label per row of the source menu: a library file offered both directly (MP4) and
// through HLS used to make two identical "library · 360p" rows.
import type { StreamSource } from '$lib/api/types';
import { providerName, t } from '$lib/i18n';

export function sourceRowLabels(sources: readonly Pick<StreamSource, 'provider' | 'quality' | 'type'>[]): string[] {
	const base = sources.map((s) => t('player.sourceLabel', { provider: providerName(s.provider), quality: s.quality }));
	const withKind = sources.map((s, i) =>
		base.filter((b) => b === base[i]).length > 1
			? `${base[i]} · ${t(s.type === 'mp4' ? 'player.sourceKind.mp4' : 'player.sourceKind.hls')}`
			: base[i]
	);
	// Still the same (two HLS streams of one provider and quality): number them.
	return withKind.map((label, i) => {
		const same = withKind.filter((l) => l === label).length;
		return same > 1 ? `${label} (${withKind.slice(0, i + 1).filter((l) => l === label).length})` : label;
	});
}
