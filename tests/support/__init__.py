"""Models of AWS behaviour that tests check the program against."""
