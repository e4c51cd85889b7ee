// Lives under src/ so svelte-check types the jest-dom matchers (browser-and-player.md §8.3).
import '@testing-library/jest-dom/vitest';
