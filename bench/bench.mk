# bench fragment (filled by bench work)
