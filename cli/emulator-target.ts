// The local emulator as the CLI sees it: the account, region and credentials a moto server
// answers to. The harness that installs and runs moto lives in dev/emulator.ts.

/** The region every client talking to the emulator uses. */
export const EMULATOR_REGION = 'us-east-1';
/** moto's default account; the dummy credentials below map to it. */
export const EMULATOR_ACCOUNT = '123456789012';
/** An emulator accepts any credentials; these keep profiles and instance roles out of it. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;
