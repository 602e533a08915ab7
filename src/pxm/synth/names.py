"""Built-in name lists (no external data): common US English and Hispanic given and family names."""

from __future__ import annotations

EN_FEMALE = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Amy",
    "Olivia", "Emma", "Ava", "Charlotte", "Harper", "Evelyn", "Abigail", "Ella", "Grace", "Chloe",
)
EN_MALE = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
    "Liam", "Noah", "Oliver", "Elijah", "Lucas", "Mason", "Logan", "Ethan", "Aiden", "Henry",
)
ES_FEMALE = (
    "María", "Guadalupe", "Juana", "Margarita", "Verónica", "Rosa", "Leticia", "Gabriela", "Alejandra",
    "Adriana", "Patricia", "Lucía", "Sofía", "Valentina", "Camila", "Isabella", "Daniela", "Mariana",
    "Fernanda", "Ximena", "Carmen", "Elena", "Ana", "Teresa", "Silvia", "Claudia", "Yolanda", "Araceli",
)
ES_MALE = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Francisco", "Alejandro", "Antonio", "Jesús",
    "Manuel", "Pedro", "Ricardo", "Fernando", "Roberto", "Javier", "Eduardo", "Raúl", "Mateo", "Santiago",
    "Diego", "Sebastián", "Emiliano", "Leonardo", "Héctor", "Arturo", "Rafael", "Sergio",
)
EN_FAMILY = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams",
    "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
    "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper",
    "Kowalski", "Nowak", "Nguyen", "Patel", "Kim", "O'Brien", "Sullivan", "Schmidt", "Olson", "Larson",
)
ES_FAMILY = (
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz", "Ortiz", "Gutiérrez",
    "Chávez", "Ramos", "Ruiz", "Álvarez", "Mendoza", "Castillo", "Jiménez", "Vásquez", "Moreno", "Romero",
    "Herrera", "Medina", "Aguilar", "Vargas", "Castro", "Guzmán", "Fernández", "Salazar", "Soto", "Delgado",
    "Contreras",
)
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")  # reserved for documentation (RFC 2606)

_ASCII = str.maketrans("áéíóúñüÁÉÍÓÚÑÜ' ", "aeiounuAEIOUNU--")


def ascii_slug(name: str) -> str:
    return name.translate(_ASCII).lower()
