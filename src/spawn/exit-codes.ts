export const EXIT_CODES_SPAWN = 1;
