from contactmerge.cli.main import app

app(prog_name="contactmerge")
