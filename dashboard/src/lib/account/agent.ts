// A session's device in words ("Chrome · Android") from its User-Agent, for the list of open
// sessions. Four browser and five system patterns cover what a household uses; a full parser
// (ua-parser-js, 30 kB) would name versions and models nobody needs to recognise their phone.
// Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux";
// headless Chromium (what the e2e suite drives) says "HeadlessChrome".

const BROWSERS: readonly [RegExp, string][] = [
	[/\bEdg(e|A|iOS)?\//, 'Edge'],
	[/\b(OPR|Opera)\//, 'Opera'],
	[/\bFirefox\/|\bFxiOS\//, 'Firefox'],
	[/\bChromium\//, 'Chromium'],
	[/\b(Headless)?Chrome\/|\bCriOS\//, 'Chrome'],
	[/\bSafari\//, 'Safari']
];

const SYSTEMS: readonly [RegExp, string][] = [
	[/\bAndroid\b/, 'Android'],
	[/\b(iPhone|iPad|iPod)\b/, 'iOS'],
	[/\bWindows\b/, 'Windows'],
	[/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
	[/\bCrOS\b/, 'ChromeOS'],
	[/\bLinux\b/, 'Linux']
];

function first(table: readonly [RegExp, string][], ua: string): string | null {
	return table.find(([pattern]) => pattern.test(ua))?.[1] ?? null;
}

/** "Firefox · Windows", "Chrome", or null when nothing is recognised (a script, curl…). */
export function describeAgent(ua: string | null | undefined): string | null {
	if (!ua) return null;
	const parts = [first(BROWSERS, ua), first(SYSTEMS, ua)].filter((p): p is string => p !== null);
	return parts.length ? parts.join(' · ') : null;
}
