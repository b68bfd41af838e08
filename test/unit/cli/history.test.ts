// `history` with nothing in its window says which window that was, and how to look further back.
import { emptyHistoryMessage, historyWindow, printHistory } from '../../../cli/history';

const NOW = Date.parse('2026-11-30T19:40:00.000Z');

describe('historyWindow', () => {
  it('reaches --since back from now, both ends in ISO', () => {
    expect(historyWindow('7d', NOW, true)).toEqual({
      from: '2026-11-23T19:40:00.000Z',
      to: '2026-11-30T19:40:00.000Z',
      since: '7d',
      sinceIsDefault: true,
    });
  });
});

describe('emptyHistoryMessage', () => {
  it('names the window, says when --since is the default, and suggests a longer one', () => {
    expect(emptyHistoryMessage(historyWindow('7d', NOW, true))).toBe(
      'no recorded events between 2026-11-23T19:40:00.000Z and 2026-11-30T19:40:00.000Z (--since 7d, the default); ' +
        'events older than that need a longer --since, e.g. --since 30d',
    );
  });

  it.each([
    ['30m', '1d'],
    ['2w', '30d'],
    ['30d', '365d'],
    ['400d', '3650d'],
  ])('--since %s given: suggests --since %s', (since, longer) => {
    const message = emptyHistoryMessage(historyWindow(since, NOW));
    expect(message).toMatch(new RegExp(`\\(--since ${since}\\); `));
    expect(message.endsWith(`e.g. --since ${longer}`)).toBe(true);
  });

  it('past the longest suggestion it still says why, without an example', () => {
    expect(emptyHistoryMessage(historyWindow('3650d', NOW))).toMatch(/\(--since 3650d\); events older than that need a longer --since$/);
  });
});

describe('printHistory', () => {
  it('no records, text: one line naming the window; --json: nothing (stdout stays JSON lines)', () => {
    const text: string[] = [];
    const json: string[] = [];
    const window = historyWindow('6h', NOW);
    printHistory([], false, (l) => text.push(l), window);
    printHistory([], true, (l) => json.push(l), window);
    expect(text).toEqual([emptyHistoryMessage(window)]);
    expect(json).toEqual([]);
  });
});
