import { createContext } from 'react';

/** False under NO_COLOR: Paint then renders plain text with no escape sequences at all. */
export const ColorContext = createContext(true);
