// Durations as records and the CLI print them.
import { humanDuration } from '../../../lambda/core/durations';

describe('humanDuration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [999.6, '1000 ms'],
    [1_000, '1.0 s'],
    [12_549, '12.5 s'],
    [119_999, '119.9 s'],
    [120_000, '2 min 0 s'],
    [250_000, '4 min 10 s'],
    [7_199_999, '119 min 59 s'],
    [7_200_000, '2 h 0 min'],
    [12_000_000, '3 h 20 min'],
    [2_880 * 60_000, '2 d 0 h'],
    [30 * 86_400_000, '30 d 0 h'],
  ])('%p ms reads as %p', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %p', (ms) => {
    expect(() => humanDuration(ms)).toThrow(RangeError);
  });
});
